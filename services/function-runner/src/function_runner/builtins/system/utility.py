"""Utility builtins: ``system/log``, ``system/uuid``, ``system/datetime``, ``system/hash``,
``system/base64``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import uuid6

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS |= {"warn": logging.WARNING, "error": logging.ERROR}


def as_bytes(value: Any) -> bytes:
    """Strings as UTF-8; anything else as canonical JSON (sorted keys, compact)."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@builtin(
    slug="system/log",
    name="Log",
    description="Writes a message (and optional data) to the runner's log with the "
    "execution, workflow and node ids; outputs what it logged.",
    category="utility",
    input_schema={
        "type": "object",
        "properties": {
            "level": {"enum": ["debug", "info", "warning", "warn", "error"], "default": "info"},
            "message": {"type": "string"},
            "data": {},
        },
        "required": ["message"],
    },
    output_schema={"type": "object", "required": ["level", "message"]},
    timeout_seconds=10,
)
async def log(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    level = input.get("level", "info")
    extra: dict[str, Any] = {"user_log": True}
    if "data" in input:
        extra["data"] = input["data"]
    ctx.log.log(LEVELS[level], input["message"], extra=extra)
    out: dict[str, Any] = {"level": level, "message": input["message"]}
    if "data" in input:
        out["data"] = input["data"]
    return out


@builtin(
    slug="system/uuid",
    name="Generate UUID",
    description="Generates a UUID: version 4 (random, default) or 7 (time-ordered).",
    category="utility",
    input_schema={
        "type": "object",
        "properties": {
            "version": {"enum": [4, 7, "4", "7", "v4", "v7"], "default": 4},
            "count": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    },
    output_schema={
        "type": "object",
        "properties": {"uuid": {"type": "string", "format": "uuid"}},
        "required": ["uuid"],
    },
    timeout_seconds=10,
)
async def make_uuid(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    version = str(input.get("version", 4)).lstrip("v")

    def one() -> str:
        return str(uuid6.uuid7() if version == "7" else uuid.uuid4())

    count = input.get("count")
    if count is None:
        return {"uuid": one(), "version": int(version)}
    uuids = [one() for _ in range(count)]
    return {"uuid": uuids[0], "uuids": uuids, "version": int(version)}


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionError(f"unknown time zone {name!r}", code="validation") from None


def _parse(value: Any, zone: ZoneInfo, fmt: str | None) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 string or a Unix timestamp")
        parsed = (
            datetime.strptime(value, fmt)
            if fmt
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
        )
    except (ValueError, OverflowError, OSError) as exc:
        raise FunctionError(
            f"cannot parse {value!r} as a date/time: {exc}", code="validation"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


_UNITS = {"weeks", "days", "hours", "minutes", "seconds", "milliseconds"}
_DIFF_UNITS = {
    "milliseconds": 0.001,
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 604800,
}


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def _described(moment: datetime, zone: ZoneInfo) -> dict[str, Any]:
    local = moment.astimezone(zone)
    return {
        "result": local.isoformat(),
        "utc": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "timestamp": moment.timestamp(),
        "timezone": str(zone),
    }


@builtin(
    slug="system/datetime",
    name="Date & Time",
    description="now / parse / format / add / diff with time zones; results are ISO 8601.",
    category="utility",
    input_schema={
        "type": "object",
        "properties": {
            "operation": {"enum": ["now", "parse", "format", "add", "diff"], "default": "now"},
            "value": {"description": "ISO 8601 string or Unix timestamp (not for now)."},
            "end": {"description": "diff: the later moment (default: now)."},
            "timezone": {"type": "string", "description": "IANA zone, e.g. Europe/Paris"},
            "inputFormat": {"type": "string", "description": "strptime format for parse"},
            "format": {"type": "string", "description": "strftime format for format"},
            "amount": {
                "type": "object",
                "description": "add: {months, weeks, days, hours, minutes, seconds, ...}",
                "additionalProperties": {"type": "number"},
            },
            "unit": {"enum": sorted(_DIFF_UNITS), "default": "seconds"},
        },
    },
    output_schema={"type": "object", "required": ["result"]},
    timeout_seconds=10,
)
async def date_time(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    operation = input.get("operation", "now")
    zone = _zone(input.get("timezone"))
    if operation == "now":
        return _described(datetime.now(UTC), zone)
    if "value" not in input:
        raise FunctionError(f"{operation} needs 'value'", code="validation")
    moment = _parse(input["value"], zone, input.get("inputFormat"))
    if operation == "parse":
        return _described(moment, zone)
    if operation == "format":
        fmt = input.get("format") or "%Y-%m-%dT%H:%M:%S%z"
        return {"result": moment.astimezone(zone).strftime(fmt), "timezone": str(zone)}
    if operation == "add":
        amount = dict(input.get("amount") or {})
        months = int(amount.pop("months", 0)) + 12 * int(amount.pop("years", 0))
        unknown = set(amount) - _UNITS
        if unknown:
            raise FunctionError(f"unknown amount unit(s) {sorted(unknown)}", code="validation")
        try:
            shifted = _add_months(moment, months) + timedelta(**amount)
        except OverflowError:
            raise FunctionError("the result is out of range", code="validation") from None
        return _described(shifted, zone)
    end = (
        _parse(input["end"], zone, input.get("inputFormat"))
        if "end" in input
        else datetime.now(UTC)
    )
    unit = input.get("unit", "seconds")
    seconds = (end - moment).total_seconds()
    return {"result": seconds / _DIFF_UNITS[unit], "unit": unit, "seconds": seconds}


_DIGESTS = {"md5", "sha1", "sha256", "sha512"}


@builtin(
    slug="system/hash",
    name="Hash",
    description="md5 / sha1 / sha256 / sha512 digest or HMAC of text (non-strings are hashed "
    "as canonical JSON).",
    category="utility",
    input_schema={
        "type": "object",
        "properties": {
            "algorithm": {"enum": ["md5", "sha1", "sha256", "sha512", "hmac"], "default": "sha256"},
            "data": {},
            "key": {"type": "string", "description": "Secret key (hmac only)."},
            "hmacAlgorithm": {"enum": sorted(_DIGESTS), "default": "sha256"},
            "encoding": {"enum": ["hex", "base64"], "default": "hex"},
        },
        "required": ["data"],
    },
    output_schema={
        "type": "object",
        "properties": {"hash": {"type": "string"}},
        "required": ["hash"],
    },
    timeout_seconds=10,
)
async def make_hash(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    algorithm = input.get("algorithm", "sha256")
    data = as_bytes(input["data"])
    if algorithm == "hmac":
        key = input.get("key")
        if not key:
            raise FunctionError("hmac needs 'key'", code="validation")
        digest = hmac.new(key.encode(), data, input.get("hmacAlgorithm", "sha256")).digest()
    else:
        digest = hashlib.new(algorithm, data, usedforsecurity=False).digest()
    if input.get("encoding", "hex") == "base64":
        return {"hash": base64.b64encode(digest).decode(), "algorithm": algorithm}
    return {"hash": digest.hex(), "algorithm": algorithm}


@builtin(
    slug="system/base64",
    name="Base64",
    description="Encodes text (non-strings as canonical JSON) to base64, or decodes base64 "
    "to UTF-8 text; urlSafe uses the URL alphabet.",
    category="utility",
    input_schema={
        "type": "object",
        "properties": {
            "operation": {"enum": ["encode", "decode"], "default": "encode"},
            "data": {},
            "urlSafe": {"type": "boolean", "default": False},
        },
        "required": ["data"],
    },
    output_schema={
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "required": ["result"],
    },
    timeout_seconds=10,
)
async def base64_codec(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    url_safe = bool(input.get("urlSafe"))
    if input.get("operation", "encode") == "encode":
        raw = as_bytes(input["data"])
        encoded = base64.urlsafe_b64encode(raw) if url_safe else base64.b64encode(raw)
        return {"result": encoded.decode()}
    text = input["data"]
    if not isinstance(text, str):
        raise FunctionError("decode needs a base64 string", code="validation")
    compact = re.sub(r"\s+", "", text)
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, altchars=b"-_" if url_safe else None, validate=True)
        return {"result": raw.decode()}
    except (binascii.Error, ValueError):
        raise FunctionError("data is not valid base64", code="validation") from None
    except UnicodeDecodeError:
        raise FunctionError("decoded bytes are not UTF-8 text", code="validation") from None
