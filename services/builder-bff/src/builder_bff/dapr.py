"""Calls to the other services, only through Dapr service invocation.

``{dapr}/v1.0/invoke/<app-id>/method/<path>``; problem responses (RFC 9457) from the callee
pass through unchanged, other failures become clear 502/503/504 problems.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from fastapi.responses import JSONResponse, Response

from service_kit.problems import (
    PROBLEM_MEDIA_TYPE,
    BadGateway,
    GatewayTimeout,
    Problem,
    ProblemError,
    ServiceUnavailable,
)

Params = Mapping[str, str | int | float | bool | list[str] | None] | Sequence[tuple[str, str]]
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class UpstreamProblem(ProblemError):
    """A problem response of another service, passed on with its own status and members."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("detail") or body.get("title") or "request failed"))
        self.upstream_status = status
        self.body = body

    def to_problem(self, instance: str | None = None) -> Problem:
        data = {**self.body, "status": self.upstream_status}
        data.setdefault("title", _phrase(self.upstream_status))
        data["instance"] = data.get("instance") or instance
        return Problem.model_validate(data)


class Invoker:
    """Dapr service invocation with error mapping; one shared connection pool."""

    def __init__(
        self,
        dapr_http_endpoint: str,
        *,
        api_token: str | None = None,
        timeout: float = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"dapr-api-token": api_token} if api_token else {}
        self.client = httpx.AsyncClient(
            base_url=f"{dapr_http_endpoint.rstrip('/')}/v1.0/invoke/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    @staticmethod
    def url(app_id: str, path: str) -> str:
        return f"{app_id}/method/{path.lstrip('/')}"

    async def request(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Params | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request; raise a problem for transport failures (never for 4xx/5xx)."""
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if content is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            return await self.client.request(
                method,
                self.url(app_id, path),
                params=_clean(params),
                json=json_body if content is None else None,
                content=content,
                headers=all_headers,
            )
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"{app_id} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{app_id} is unreachable: {type(exc).__name__}") from exc

    async def forward(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        query: str,
        content: bytes,
        headers: Mapping[str, str],
        timeout_seconds: float,
    ) -> httpx.Response:
        """Relay a request as it came: the raw query string and body, only ``headers`` (no
        defaults added); raise a problem for transport failures (never for 4xx/5xx)."""
        url = self.url(app_id, path) + (f"?{query}" if query else "")
        try:
            return await self.client.request(
                method,
                url,
                content=content,
                headers=dict(headers),
                timeout=httpx.Timeout(timeout_seconds, connect=5),
            )
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"{app_id} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{app_id} is unreachable: {type(exc).__name__}") from exc

    async def json(
        self,
        app_id: str,
        method: str,
        path: str,
        **kw: Any,
    ) -> Any:
        """Send a request and return its JSON body, raising the mapped problem on failure."""
        response = await self.request(app_id, method, path, **kw)
        raise_for_problem(app_id, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise BadGateway(f"{app_id} answered with a body that is not JSON") from exc

    async def stream(
        self,
        app_id: str,
        path: str,
        *,
        token: str | None = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Open a streaming GET (SSE); the caller closes the response."""
        all_headers = {"Accept": "text/event-stream", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        request = self.client.build_request(
            "GET",
            self.url(app_id, path),
            params=_clean(params),
            headers=all_headers,
            timeout=httpx.Timeout(None, connect=5),
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(f"{app_id} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{app_id} is unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise_for_problem(app_id, response)
        return response


def _clean(params: Params | None) -> Any:
    if params is None:
        return None
    if not isinstance(params, Mapping):
        return list(params)
    return {k: v for k, v in params.items() if v is not None and v != ""}


def raise_for_problem(app_id: str, response: httpx.Response) -> None:
    """Raise the problem a failed response stands for; do nothing for 1xx-3xx."""
    status = response.status_code
    if status < 400:
        return
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (
        response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE) or "title" in body
    ):
        if status >= 500:
            raise BadGateway(
                f"{app_id} failed: {body.get('detail') or body.get('title')}",
                upstream_status=status,
            )
        raise UpstreamProblem(status, body)
    if isinstance(body, dict) and status < 500:
        detail = (
            body.get("detail") if isinstance(body.get("detail"), str) else json.dumps(body)[:500]
        )
        raise UpstreamProblem(status, {"title": _phrase(status), "detail": detail})
    if status == 404 and body is None:
        raise UpstreamProblem(404, {"title": "Not Found", "detail": f"{app_id}: not found"})
    if status < 500:
        raise UpstreamProblem(status, {"title": _phrase(status), "detail": response.text[:500]})
    raise BadGateway(f"{app_id} failed with status {status}", upstream_status=status)


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def passthrough(response: httpx.Response, app_id: str) -> Response:
    """A successful upstream response as a FastAPI response (JSON or empty)."""
    raise_for_problem(app_id, response)
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in _HOP_HEADERS
        and k.lower() in {"content-type", "location", "etag", "cache-control"}
    }
    if response.status_code == 204 or not response.content:
        return Response(status_code=response.status_code, headers=headers)
    return Response(content=response.content, status_code=response.status_code, headers=headers)


def json_response(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


async def iter_raw(response: httpx.Response) -> AsyncIterator[bytes]:
    """The bytes of a streamed response as they arrive; closes it at the end or on cancel."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()
