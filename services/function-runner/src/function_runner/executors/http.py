"""HTTP functions (``execution_type: http``): call the registered webhook.

The body is the input plus ``_context`` (execution, workflow, node ids and attempt);
credentials named ``HEADER_<NAME>`` become ``<Name>`` headers. Network errors and 5xx
answers are retried with exponential backoff (the function's ``retry_policy``, else 3
attempts from 100 ms, doubling, capped at 30 s) within the deadline; 4xx answers never
are. A non-2xx answer, or a JSON body with ``"success": false``, is a failure carrying the
status and an excerpt of the body. Every hop goes through the SSRF guard.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, get_args

import httpx

from function_runner.builtins.base import ErrorCode, ExecutionContext, FunctionError, FunctionRecord
from function_runner.functions.schemas import RetryPolicy

DEFAULT_RETRY = RetryPolicy()
EXCERPT_CHARS = 500
HEADER_PREFIX = "HEADER_"


def credential_headers(credentials: dict[str, str] | Any) -> dict[str, str]:
    """``HEADER_X_API_KEY`` -> ``X-Api-Key``."""
    headers: dict[str, str] = {}
    for key, value in credentials.items():
        if key.upper().startswith(HEADER_PREFIX) and len(key) > len(HEADER_PREFIX):
            name = "-".join(p.capitalize() for p in key[len(HEADER_PREFIX) :].split("_") if p)
            headers[name] = value
    return headers


def status_error(status: int, text: str, retry_after: str | None) -> FunctionError:
    """A failure for a non-2xx HTTP answer, classified by status."""
    excerpt = text[:EXCERPT_CHARS]
    codes: dict[int, ErrorCode] = {
        400: "validation",
        401: "auth",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        422: "validation",
        429: "rate_limited",
    }
    code: ErrorCode = codes.get(status, "upstream" if status >= 500 else "validation")
    retryable = status >= 500 or status in (408, 429)
    return FunctionError(
        f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}",
        code=code,
        retryable=retryable,
        retry_after=parse_retry_after(retry_after),
        status=status,
        details={"status": status, "body": excerpt},
    )


def as_error_code(value: Any) -> ErrorCode:
    known: tuple[ErrorCode, ...] = get_args(ErrorCode)
    for code in known:
        if value == code:
            return code
    return "upstream"


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())


def parse_body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "")
    text = response.text
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text
    return text


def interpret(response: httpx.Response) -> Any:
    """The step's data from a webhook answer, or a raised :class:`FunctionError`."""
    if not 200 <= response.status_code < 300:
        raise status_error(response.status_code, response.text, response.headers.get("retry-after"))
    body = parse_body(response)
    if isinstance(body, dict) and body.get("success") is False:
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        raise FunctionError(
            str(message or "the function reported success: false"),
            code=as_error_code(body.get("error_code")),
            retryable=bool(body.get("retryable", False)),
            status=response.status_code,
            details={"status": response.status_code, "body": response.text[:EXCERPT_CHARS]},
        )
    if isinstance(body, dict) and body.get("success") is True and "data" in body:
        return body["data"]
    return body


async def run_http_function(
    function: FunctionRecord, input: dict[str, Any], ctx: ExecutionContext
) -> Any:
    if not function.webhook_url:
        raise FunctionError(f"{function.slug} has no webhook_url", code="internal")
    policy = RetryPolicy.model_validate(function.retry_policy or DEFAULT_RETRY.model_dump())
    headers = {str(k): str(v) for k, v in (function.webhook_headers or {}).items()}
    headers.update(credential_headers(ctx.credentials))
    headers["Idempotency-Key"] = ctx.idempotency_key or f"{ctx.execution_id}:{ctx.node_id}"
    body = {
        **input,
        "_context": {
            "execution_id": ctx.execution_id,
            "workflow_id": ctx.workflow_id,
            "node_id": ctx.node_id,
            "node_name": ctx.node_name,
            "attempt": ctx.attempt,
        },
    }
    attempt = 1
    while True:
        remaining = ctx.deadline - time.monotonic()
        if remaining <= 0:
            raise FunctionError(f"{function.slug} ran out of time", code="timeout", retryable=True)
        try:
            response = await ctx.safe_http.request(
                function.webhook_method,
                function.webhook_url,
                headers=headers,
                json=body,
                timeout=min(float(function.webhook_timeout_seconds), remaining),
                follow_redirects=False,
                max_response_bytes=ctx.settings.http_max_response_bytes,
            )
            if response.status_code >= 500:
                raise status_error(
                    response.status_code, response.text, response.headers.get("retry-after")
                )
            return interpret(response)
        except FunctionError as exc:
            transient = (
                exc.retryable
                and exc.code in ("upstream", "timeout")
                and (exc.status is None or exc.status >= 500)
            )
            delay = policy.delay(attempt)
            if not transient or attempt >= policy.max_attempts:
                raise
            if time.monotonic() + delay >= ctx.deadline:
                raise
            ctx.log.info(
                "webhook attempt failed; retrying",
                extra={"attempt": attempt, "delay_s": delay, "error_code": exc.code},
            )
            attempt += 1
            await asyncio.sleep(delay)
