"""``system/http-request``: a generic HTTP call to a user-supplied URL (SSRF-guarded)."""

from __future__ import annotations

import json
from typing import Any

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.executors.http import parse_body, status_error


def _object(value: Any, name: str) -> dict[str, Any]:
    """Headers/query as an object or a JSON string of one (seed 003 writes them as JSON)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise FunctionError(
                f"{name} must be an object or a JSON object string", code="validation"
            ) from None
    if not isinstance(value, dict):
        raise FunctionError(f"{name} must be an object", code="validation")
    return value


@builtin(
    slug="system/http-request",
    name="HTTP Request",
    description="Calls any HTTP(S) URL. Internal addresses are refused unless allow-listed.",
    category="network",
    input_schema={
        "type": "object",
        "properties": {
            "method": {
                "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                "default": "GET",
            },
            "url": {"type": "string", "minLength": 1},
            "headers": {"type": ["object", "string"], "description": "Object or JSON string"},
            "query": {"type": ["object", "string"]},
            "body": {"description": "Objects/lists are sent as JSON, strings as text."},
            "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
            "responseType": {"enum": ["json", "text", "auto"], "default": "auto"},
            "followRedirects": {"type": "boolean", "default": True},
            "failOnHttpError": {
                "type": "boolean",
                "default": True,
                "description": "A 4xx/5xx answer fails the step (false: returned as data).",
            },
        },
        "required": ["url"],
    },
    output_schema={
        "type": "object",
        "properties": {"status": {"type": "integer"}, "headers": {"type": "object"}, "body": {}},
        "required": ["status", "headers", "body"],
    },
    timeout_seconds=120,
)
async def http_request(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    method = str(input.get("method", "GET")).upper()
    headers = {str(k): str(v) for k, v in _object(input.get("headers"), "headers").items()}
    query = _object(input.get("query"), "query")
    body = input.get("body")
    content: str | None = None
    json_body: Any = None
    if isinstance(body, dict | list | int | float | bool):
        json_body = body
    elif isinstance(body, str):
        content = body
    response = await ctx.safe_http.request(
        method,
        input["url"],
        headers=headers,
        params=query or None,
        content=content,
        json=json_body,
        timeout=float(input.get("timeoutSeconds") or ctx.settings.http_default_timeout_seconds),
        follow_redirects=bool(input.get("followRedirects", True)),
    )
    if response.status_code >= 400 and input.get("failOnHttpError", True):
        raise status_error(response.status_code, response.text, response.headers.get("retry-after"))
    response_type = input.get("responseType", "auto")
    if response_type == "text":
        parsed: Any = response.text
    elif response_type == "json":
        try:
            parsed = response.json() if response.content else None
        except ValueError:
            raise FunctionError(
                f"response is not JSON (content-type {response.headers.get('content-type')!r})",
                code="validation",
                status=response.status_code,
            ) from None
    else:
        parsed = parse_body(response)
    return {"status": response.status_code, "headers": dict(response.headers), "body": parsed}
