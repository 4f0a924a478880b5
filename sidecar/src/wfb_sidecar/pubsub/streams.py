"""Streaming subscriptions (``SubscribeTopicEventsAlpha1``): one open gRPC stream.

A stream joins the consumer group of its app on its topic, like any other subscription
of that app: the broker's delivery worker hands the group's messages to the group's
open streams in turn, one message in flight at a time, and waits for the client's
answer (SUCCESS, RETRY or DROP). A stream that closes with a message in flight gives it
back unanswered: it is delivered again to another stream, or when one reconnects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

from wfb_sidecar.pubsub.cloudevents import is_json_type
from wfb_sidecar.pubsub.store import GroupKey

log = logging.getLogger(__name__)

CLOSED = "CLOSED"
TIMEOUT = "TIMEOUT"
_ENVELOPE_FIELDS = {
    "id",
    "source",
    "type",
    "specversion",
    "datacontenttype",
    "data",
    "data_base64",
    "topic",
    "pubsubname",
}


class EventStream:
    def __init__(
        self, group: GroupKey, dead_letter_topic: str | None, metadata: dict[str, str]
    ) -> None:
        self.group = group
        self.dead_letter_topic = dead_letter_topic or None
        self.metadata = metadata
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.closed = False
        self._waiting: tuple[str, asyncio.Future[str]] | None = None

    @property
    def busy(self) -> bool:
        return self._waiting is not None

    async def deliver(self, event: dict[str, Any], timeout_s: float) -> str:
        """Send one event; return the client's answer, ``CLOSED`` or ``TIMEOUT``."""
        if self.closed:
            return CLOSED
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting = (str(event.get("id", "")), future)
        self.outbox.put_nowait(event)
        try:
            async with asyncio.timeout(timeout_s):  # keeps a cancellation (wait_for may not)
                return await future
        except TimeoutError:
            return TIMEOUT
        finally:
            self._waiting = None

    def answer(self, event_id: str, status: str) -> None:
        waiting = self._waiting
        if waiting is None or waiting[0] != event_id or waiting[1].done():
            log.warning(
                "stream on %s/%s of app %s answered %s for event %r, which is not in flight; "
                "ignored", self.group.pubsub, self.group.topic, self.group.app_id, status,
                event_id,
            )  # fmt: skip
            return
        waiting[1].set_result(status)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._waiting is not None and not self._waiting[1].done():
            self._waiting[1].set_result(CLOSED)
        self.outbox.put_nowait(None)


def event_fields(event: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvent as the fields of Dapr's ``TopicEventRequest`` (``data`` as bytes, the
    attributes it has no field for as ``extensions``)."""
    content_type = str(event.get("datacontenttype") or "")
    if "data_base64" in event:
        data = base64.b64decode(str(event["data_base64"]))
    elif "data" not in event or event["data"] is None:
        data = b""
    elif isinstance(event["data"], str) and not is_json_type(content_type or "text/plain"):
        data = event["data"].encode("utf-8")
    else:
        data = json.dumps(event["data"], separators=(",", ":")).encode("utf-8")
    return {
        "id": str(event.get("id", "")),
        "source": str(event.get("source", "")),
        "type": str(event.get("type", "")),
        "spec_version": str(event.get("specversion", "")),
        "data_content_type": content_type,
        "data": data,
        "topic": str(event.get("topic", "")),
        "pubsub_name": str(event.get("pubsubname", "")),
        "extensions": {k: v for k, v in event.items() if k not in _ENVELOPE_FIELDS},
    }
