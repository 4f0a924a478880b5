"""What every integration shares: credentials, base URLs, one HTTP call, error mapping.

An integration module declares a :class:`Vendor` (plugin id, default API base URL, the
credential keys it accepts) and calls :meth:`Vendor.request`, which

- sends to ``settings.integration_base_url(plugin, default)`` through ``ctx.http`` with a
  timeout bounded by the run's deadline;
- maps failures to :class:`FunctionError`: 401 -> ``auth``, 403 -> ``forbidden``,
  404 -> ``not_found``, 409 -> ``conflict``, 429 -> ``rate_limited`` (retryable, with
  ``retry_after`` from ``Retry-After`` or the vendor's rate-limit reset headers), other
  4xx -> ``validation`` with the API's own message, 5xx and network errors -> ``upstream``
  (retryable), a timeout -> ``timeout`` (retryable).

Credential values never appear in messages: errors name the missing *keys* only.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from function_runner.builtins.base import ErrorCode, ExecutionContext, FunctionError

MAX_CALL_SECONDS = 120.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


@dataclass(frozen=True)
class Vendor:
    """One third-party API: where it lives and which credential keys unlock it."""

    plugin: str
    label: str
    default_base_url: str
    credential_keys: tuple[str, ...]
    """Accepted credential keys, preferred first (e.g. ``apiKey`` then ``OPENAI_API_KEY``)."""

    def base_url(self, ctx: ExecutionContext) -> str:
        return ctx.settings.integration_base_url(self.plugin, self.default_base_url)

    def secret(self, ctx: ExecutionContext, *keys: str) -> str:
        """The first non-empty credential among ``keys`` (default: the vendor's keys)."""
        for key in keys or self.credential_keys:
            value = ctx.credentials.get(key)
            if value:
                return value
        wanted = " or ".join(repr(k) for k in keys or self.credential_keys)
        raise FunctionError(
            f"{self.label} credentials are missing: store {wanted} for integration {self.plugin!r}",
            code="auth",
        )

    def optional(self, ctx: ExecutionContext, *keys: str) -> str | None:
        return next((ctx.credentials[k] for k in keys if ctx.credentials.get(k)), None)

    async def request(
        self,
        ctx: ExecutionContext,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        message: Callable[[Any], str | None] | None = None,
        on_error: Callable[[httpx.Response], FunctionError | None] | None = None,
    ) -> httpx.Response:
        """Call the API; a non-2xx answer raises the mapped :class:`FunctionError`
        (``on_error`` may map a vendor-specific answer first)."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.base_url(ctx)}{url}"
        remaining = ctx.deadline - time.monotonic()
        if remaining <= 0:
            raise FunctionError(f"no time left to call {self.label}", code="timeout")
        try:
            response = await ctx.http.request(
                method,
                url,
                headers=dict(headers),
                json=json,
                data=data,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=content,
                timeout=min(remaining, MAX_CALL_SECONDS),
            )
        except httpx.TimeoutException:
            raise FunctionError(
                f"{self.label} did not answer in time", code="timeout", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise FunctionError(
                f"{self.label} is unreachable: {type(exc).__name__}",
                code="upstream",
                retryable=True,
            ) from None
        if response.is_success:
            return response
        if on_error is not None and (special := on_error(response)) is not None:
            raise scrub(special, ctx)
        raise scrub(self.error(response, message), ctx)

    def error(
        self, response: httpx.Response, message: Callable[[Any], str | None] | None = None
    ) -> FunctionError:
        body = _body(response)
        text = (message or api_message)(body) or _excerpt(response)
        status = response.status_code
        code, retryable = status_code_error(status)
        wait = retry_after(response.headers) if retryable else None
        return FunctionError(
            f"{self.label} API error {status}: {text}",
            code=code,
            retryable=retryable,
            retry_after=wait,
            status=status,
            details=body if isinstance(body, dict) else None,
        )

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise FunctionError(
                f"{self.label} answered with something that is not JSON: {_excerpt(response)}",
                code="upstream",
                retryable=True,
            ) from None


def scrub(error: FunctionError, ctx: ExecutionContext) -> FunctionError:
    """Remove credential values an API may echo back (e.g. "Invalid API key: sk-...")."""
    secrets = [v for v in ctx.credentials.values() if v and len(v) >= 4]
    for value in secrets:
        error.message = error.message.replace(value, "***")
    error.args = (error.message,)
    if isinstance(error.details, dict) and secrets:
        text = json.dumps(error.details)
        if any(value in text for value in secrets):
            for value in secrets:
                text = text.replace(json.dumps(value)[1:-1], "***")
            error.details = json.loads(text)
    return error


def status_code_error(status: int) -> tuple[ErrorCode, bool]:
    """The error code and retryability of an HTTP status."""
    if status == 401:
        return "auth", False
    if status == 403:
        return "forbidden", False
    if status in (404, 410):
        return "not_found", False
    if status == 409:
        return "conflict", False
    if status == 429:
        return "rate_limited", True
    if status == 408:
        return "timeout", True
    if status >= 500:
        return "upstream", True
    return "validation", False


def api_message(body: Any) -> str | None:
    """The human message in the error shapes these APIs use."""
    if isinstance(body, str):
        return body.strip()[:500] or None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        text = error.get("message") or error.get("code") or error.get("type")
        if text:
            return str(text)
    if isinstance(error, str) and error:
        detail = body.get("error_description") or body.get("message")
        return f"{error}: {detail}" if detail and detail != error else error
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts = []
        for item in errors[:5]:
            if isinstance(item, dict):
                described = " ".join(str(item[k]) for k in ("field", "code") if item.get(k))
                parts.append(str(item.get("long_message") or item.get("message") or described))
            else:
                parts.append(str(item))
        joined = "; ".join(p for p in parts if p)
        summary = body.get("message")
        return f"{summary}: {joined}" if summary and joined else str(summary or joined)
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail[:5]
        )
    if detail:
        return str(detail)
    if body.get("message"):
        return str(body["message"])
    return None


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from the rate-limit headers vendors send.

    ``Retry-After`` (seconds or an HTTP date); ``x-ratelimit-reset-requests`` /
    ``-tokens`` (OpenAI durations like ``6m0s``, ``20ms``); ``ratelimit-reset`` (seconds);
    ``x-ratelimit-reset`` (GitHub: epoch seconds; elsewhere seconds);
    ``x-ratelimit-requests-reset`` (Linear: epoch milliseconds).
    """
    now = time.time() if now is None else now
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value:
        seconds = _seconds(value)
        if seconds is None:
            parsed = email.utils.parsedate_to_datetime(value) if "," in value else None
            if parsed is not None:
                seconds = parsed.timestamp() - now
        if seconds is not None:
            return max(0.0, seconds)
    durations = [
        d
        for key in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if (d := _duration(lowered.get(key, ""))) is not None
    ]
    if durations:
        return max(durations)
    for key in ("ratelimit-reset", "x-ratelimit-reset", "x-ratelimit-requests-reset"):
        seconds = _seconds(lowered.get(key, ""))
        if seconds is None:
            continue
        if seconds > 1e11:  # epoch milliseconds
            return max(0.0, seconds / 1000 - now)
        if seconds > 1e9:  # epoch seconds
            return max(0.0, seconds - now)
        return max(0.0, seconds)
    return None


def _seconds(value: str) -> float | None:
    try:
        return float(value.strip())
    except ValueError:
        return None


def _duration(value: str) -> float | None:
    parts = _DURATION_PART.findall(value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip()
    return text[:300] if text else f"HTTP {response.status_code}"


def idempotency_key(ctx: ExecutionContext, slug: str, step: str = "") -> str:
    """The same for every retry of one node of one execution: a repeated call is a no-op
    at APIs that honour ``Idempotency-Key`` (activities are at-least-once). Built on the
    step's own key when the caller sent one, else on the execution and node ids."""
    base = ctx.idempotency_key or f"wfb-{ctx.execution_id}-{ctx.node_id}"
    return f"{base}-{slug.replace('/', '-')}{step}"[:255]


def string_list(value: Any) -> list[str]:
    """A list from a list or a comma-separated string (forms often give the latter)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(item) for item in value]


def text_field(title: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "title": title, "description": description, **extra}


def schema(
    properties: Mapping[str, Any], required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    """An object schema whose properties keep their declaration order (form order)."""
    out: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out
