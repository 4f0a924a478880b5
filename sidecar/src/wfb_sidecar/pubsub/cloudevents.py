"""CloudEvents 1.0 envelopes as daprd builds them for published messages.

- A JSON content type (``application/json``, ``*+json``) with a valid JSON body puts
  the parsed value in ``data``; other text goes in ``data`` as a string; bytes that are
  not UTF-8 go in ``data_base64``.
- A body sent as ``application/cloudevents+json`` is used as the envelope; the
  attributes it lacks are added.
- ``rawPayload`` messages are stored as sent; a subscriber that does not ask for raw
  payloads receives them wrapped in an envelope with ``data_base64``, as daprd does.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_DATA_CONTENT_TYPE = "text/plain"
EVENT_TYPE = "com.dapr.event.sent"
OVERRIDABLE = ("id", "source", "type", "subject", "time", "specversion", "datacontenttype")


class CloudEventError(ValueError):
    pass


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _data_fields(data: bytes, content_type: str) -> dict[str, Any]:
    if is_json_type(content_type):
        try:
            return {"data": json.loads(data)}
        except ValueError:
            pass
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data_base64": base64.b64encode(data).decode("ascii")}


def new_envelope(
    data: bytes,
    content_type: str | None,
    *,
    source: str,
    pubsub: str,
    topic: str,
    traceparent: str | None = None,
    tracestate: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The envelope of a published message; ``application/cloudevents+json`` bodies are kept."""
    content_type = content_type or DEFAULT_DATA_CONTENT_TYPE
    if content_type.split(";", 1)[0].strip().lower() == CLOUDEVENTS_CONTENT_TYPE:
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise CloudEventError(f"body is not a JSON CloudEvent: {exc}") from None
        if not isinstance(event, dict):
            raise CloudEventError("a CloudEvent must be a JSON object")
    else:
        event = {"datacontenttype": content_type, **_data_fields(data, content_type)}
    event.setdefault("specversion", "1.0")
    event.setdefault("id", str(uuid.uuid4()))
    event.setdefault("source", source)
    event.setdefault("type", EVENT_TYPE)
    event.setdefault("time", _now())
    event.setdefault("datacontenttype", "application/json")
    for name in OVERRIDABLE:
        if overrides and f"cloudevent.{name}" in overrides:
            event[name] = overrides[f"cloudevent.{name}"]
    event["topic"] = topic
    event["pubsubname"] = pubsub
    if traceparent:
        event.setdefault("traceparent", traceparent)
        event.setdefault("traceid", traceparent)
    if tracestate:
        event.setdefault("tracestate", tracestate)
    return event


def wrap_raw(data: bytes, *, pubsub: str, topic: str, message_id: int) -> dict[str, Any]:
    """The envelope a non-raw subscriber gets for a message published with rawPayload."""
    return {
        "specversion": "1.0",
        "id": f"raw-{message_id}",
        "source": "",
        "type": EVENT_TYPE,
        "datacontenttype": "application/octet-stream",
        "data_base64": base64.b64encode(data).decode("ascii"),
        "topic": topic,
        "pubsubname": pubsub,
    }


def envelope_bytes(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
