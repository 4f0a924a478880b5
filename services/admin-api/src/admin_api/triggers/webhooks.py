"""Webhook request checks: HMAC-SHA256 over ``<timestamp>.<raw body>`` with a time
window, bearer secrets, and the trigger data made from the JSON body and the query."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Sequence
from typing import Any

import jsonschema

from service_kit.problems import ProblemError, Unauthorized, Unprocessable

_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class UnsupportedMediaType(ProblemError):
    status = 415


def _refuse(reason: str) -> Unauthorized:
    return Unauthorized(reason, headers={"WWW-Authenticate": 'WfbSignature realm="webhook"'})


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_hmac(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    tolerance_s: int,
    now: float | None = None,
) -> str:
    """The (lower-case hex) signature when it is valid and fresh; 401 saying why not."""
    if not timestamp or not signature:
        raise _refuse("missing x-wfb-timestamp or x-wfb-signature header")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise _refuse("x-wfb-timestamp must be unix seconds")
    match = _SIGNATURE.match(signature.strip())
    if match is None:
        raise _refuse("x-wfb-signature must be 'sha256=<64 hex digits>'")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_s:
        raise _refuse(f"the timestamp is outside the allowed window of {tolerance_s} s")
    expected = signature_of(secret, timestamp, body)
    given = match.group(1).lower()
    if not hmac.compare_digest(expected, given):
        raise _refuse("the signature does not match the body")
    return given


def verify_bearer(secret: str, header: str | None) -> None:
    if not header or not header.lower().startswith("bearer "):
        raise _refuse("a bearer secret is required (Authorization: Bearer <secret>)")
    if not hmac.compare_digest(header[7:].strip().encode(), secret.encode()):
        raise _refuse("the bearer secret is not valid")


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The JSON object of the body (``{}`` when empty); 415 when it is not JSON."""
    if not body.strip():
        return {}
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType("the webhook body must be JSON (Content-Type: application/json)")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UnsupportedMediaType("the webhook body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Unprocessable(
            "the webhook body must be a JSON object",
            errors=[{"loc": ["body"], "pointer": "/", "message": "must be an object"}],
        )
    return data


def merge_query(
    data: dict[str, Any], query: Sequence[tuple[str, str]], schema: dict[str, Any] | None
) -> dict[str, Any]:
    """Add query parameters for keys the body lacks (a repeated key becomes a list), each
    value coerced to the schema's declared integer/number/boolean type when it parses."""
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    properties = (schema or {}).get("properties") or {}
    merged = dict(data)
    for key, values in grouped.items():
        if key in merged:
            continue
        declared = properties.get(key) if isinstance(properties, dict) else None
        if len(values) > 1 or _declares(declared, "array"):
            items = declared.get("items") if isinstance(declared, dict) else None
            merged[key] = [_coerce(v, items) for v in values]
        else:
            merged[key] = _coerce(values[0], declared)
    return merged


def _declares(schema: Any, kind: str) -> bool:
    if not isinstance(schema, dict):
        return False
    declared = schema.get("type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


def _coerce(value: str, schema: Any) -> Any:
    if _declares(schema, "integer"):
        try:
            return int(value)
        except ValueError:
            return value
    if _declares(schema, "number"):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value else number
    if _declares(schema, "boolean") and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def check_schema(schema: dict[str, Any] | None, data: Any, where: str = "body") -> None:
    """422 with every field error when ``data`` does not match ``schema``."""
    if not isinstance(schema, dict):
        return
    validator = jsonschema.Draft202012Validator(schema)
    found = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not found:
        return
    raise Unprocessable(
        f"the request does not match the trigger's input schema: {found[0].message}",
        errors=[
            {
                "loc": [where, *map(str, e.absolute_path)],
                "pointer": "/" + "/".join(map(str, e.absolute_path)),
                "message": e.message,
            }
            for e in found[:50]
        ],
    )


def schema_problem(schema: dict[str, Any] | None, data: Any) -> str | None:
    """The first schema error as text (for dead letters), or None."""
    if not isinstance(schema, dict):
        return None
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data)
    )
    if error is None:
        return None
    path = "/".join(map(str, error.absolute_path))
    return f"{path or 'event'}: {error.message}"
