"""RFC 9457 problem details: typed errors that carry their HTTP status, one renderer.

Raise a :class:`ProblemError` subclass anywhere in a request; the handlers installed by
:func:`install_problem_handlers` render it (and FastAPI's own HTTP and validation errors,
and any unexpected exception) as ``application/problem+json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from service_kit.logging import current_log_context

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("service_kit.problems")


class Problem(BaseModel):
    """The problem document (RFC 9457 §3) plus this platform's extension members."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemError(Exception):
    """An error that becomes a problem response with ``status``."""

    status: ClassVar[int] = 500
    problem_type: ClassVar[str] = "about:blank"

    def __init__(
        self,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.title = title or HTTPStatus(self.status).phrase
        self.headers = headers or {}
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> Problem:
        return Problem(
            type=self.problem_type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            **self.extensions,
        )


class BadRequest(ProblemError):
    status = 400


class Unauthorized(ProblemError):
    status = 401

    def __init__(self, detail: str = "authentication required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status = 403


class NotFound(ProblemError):
    status = 404


class Conflict(ProblemError):
    status = 409


class PayloadTooLarge(ProblemError):
    status = 413


class Unprocessable(ProblemError):
    """422 with a list of field- or node-level ``errors``."""

    status = 422

    def __init__(self, detail: str, errors: Sequence[dict[str, Any]] = (), **kw: Any) -> None:
        super().__init__(detail, errors=list(errors), **kw)


class TooManyRequests(ProblemError):
    status = 429

    def __init__(self, detail: str, retry_after: int, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail, retry_after=retry_after, **kw)


class BadGateway(ProblemError):
    status = 502


class ServiceUnavailable(ProblemError):
    status = 503


class GatewayTimeout(ProblemError):
    status = 504


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries so each route's possible problems appear in OpenAPI."""
    return {
        err.status: {
            "model": Problem,
            "description": HTTPStatus(err.status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for err in errors
    }


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        out.append(
            {
                "loc": loc,
                "pointer": "/" + "/".join(loc[1:]) if len(loc) > 1 else "/",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.to_problem(request.url.path), exc.headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        detail = exc.detail if isinstance(exc.detail, str) else title
        problem = Problem(title=title, status=status, detail=detail, instance=request.url.path)
        return problem_response(problem, dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        first = errors[0] if errors else None
        detail = (
            f"request is invalid: {first['message']} at {'.'.join(first['loc'])}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
            if first
            else "request is invalid"
        )
        problem = Problem(
            type="about:blank",
            title="Unprocessable Content",
            status=422,
            detail=detail,
            instance=request.url.path,
            errors=errors,
        )
        return problem_response(problem)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error", extra={"path": request.url.path})
        problem = Problem(
            title="Internal Server Error",
            status=500,
            detail="an unexpected error occurred; it has been logged",
            instance=request.url.path,
            request_id=current_log_context().get("request_id"),
        )
        return problem_response(problem)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
