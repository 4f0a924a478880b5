"""CloudEvents envelopes (unit)."""

from __future__ import annotations

import base64
import json

import pytest

from wfb_sidecar.pubsub.cloudevents import CloudEventError, new_envelope, wrap_raw

pytestmark = pytest.mark.unit


def envelope(data: bytes, content_type: str | None, **kwargs: object) -> dict[str, object]:
    return new_envelope(data, content_type, source="app", pubsub="ps", topic="t", **kwargs)  # type: ignore[arg-type]


def test_json_data_is_decoded() -> None:
    event = envelope(b'{"a": [1, 2]}', "application/json; charset=utf-8")
    assert event["data"] == {"a": [1, 2]}
    assert event["datacontenttype"] == "application/json; charset=utf-8"
    assert (event["specversion"], event["type"], event["source"]) == (
        "1.0",
        "com.dapr.event.sent",
        "app",
    )
    assert (event["topic"], event["pubsubname"]) == ("t", "ps")


def test_invalid_json_stays_text_and_binary_is_base64() -> None:
    assert envelope(b"{oops", "application/json")["data"] == "{oops"
    binary = envelope(b"\xff\x00", "application/octet-stream")
    assert binary["data_base64"] == base64.b64encode(b"\xff\x00").decode()
    assert "data" not in binary


def test_default_content_type_is_text() -> None:
    event = envelope(b"hello", None)
    assert (event["data"], event["datacontenttype"]) == ("hello", "text/plain")


def test_a_cloudevent_body_is_completed_not_replaced() -> None:
    body = json.dumps(
        {"id": "1", "source": "s", "type": "x", "data": 5, "topic": "spoofed"}
    ).encode()
    event = envelope(body, "application/cloudevents+json", traceparent="00-a-b-01")
    assert (event["id"], event["source"], event["type"], event["data"]) == ("1", "s", "x", 5)
    assert event["topic"] == "t"
    assert event["traceparent"] == "00-a-b-01"
    assert event["specversion"] == "1.0"


@pytest.mark.parametrize("body", [b"[1]", b"nope"])
def test_bad_cloudevents(body: bytes) -> None:
    with pytest.raises(CloudEventError):
        envelope(body, "application/cloudevents+json")


def test_overrides() -> None:
    event = envelope(
        b"x",
        "text/plain",
        overrides={"cloudevent.id": "i", "cloudevent.subject": "s", "other": "o"},
    )
    assert (event["id"], event["subject"]) == ("i", "s")
    assert "other" not in event


def test_raw_wrap() -> None:
    event = wrap_raw(b"\x01", pubsub="ps", topic="t", message_id=7)
    assert event["id"] == "raw-7"
    assert base64.b64decode(str(event["data_base64"])) == b"\x01"
