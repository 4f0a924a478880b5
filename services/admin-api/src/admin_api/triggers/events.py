"""Event triggers: each CloudEvent of a subscribed topic is matched against the active
event triggers on that topic (CEL ``filter`` over ``event``); a match starts a run with the
event as trigger data, once per CloudEvent id. Malformed events go to the trigger's
dead-letter topic with a reason."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from sqlalchemy import select

from admin_api.db import utcnow
from admin_api.triggers import service
from admin_api.triggers.models import Trigger
from admin_api.triggers.webhooks import is_json_media_type, schema_problem
from service_kit.db import transaction
from workflow_core.expressions import ExpressionError, compile_expression
from workflow_core.nodes import TriggerConfig

_log = logging.getLogger("admin_api.triggers.events")
Ack = Literal["success", "retry"]
REQUIRED = ("id", "source", "type", "specversion")


@dataclass
class Incoming:
    """One message of a subscription: the CloudEvent, or why it is not one."""

    pubsub: str
    topic: str
    event: dict[str, Any] | None
    malformed: str | None = None
    raw: str = ""


@dataclass
class Outcome:
    ack: Ack
    started: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)


def from_parts(
    pubsub: str,
    topic: str,
    attributes: dict[str, Any],
    raw_data: bytes,
    content_type: str,
) -> Incoming:
    """Build the CloudEvent a filter and a run see (``id, source, type, specversion,
    datacontenttype, subject, time, data, ...``) from a delivered message."""
    event = {k: v for k, v in attributes.items() if v not in (None, "")}
    event.setdefault("topic", topic)
    event.setdefault("pubsubname", pubsub)
    raw = raw_data.decode("utf-8", "replace")[:2000]
    missing = [k for k in REQUIRED if not event.get(k)]
    if missing:
        return Incoming(pubsub, topic, None, f"not a CloudEvent: missing {', '.join(missing)}", raw)
    if content_type:
        event["datacontenttype"] = content_type
    if raw_data:
        if not is_json_media_type(content_type or "application/json"):
            return Incoming(pubsub, topic, None, f"data is not JSON ({content_type})", raw)
        try:
            event["data"] = json.loads(raw_data)
        except (ValueError, UnicodeDecodeError):
            return Incoming(pubsub, topic, None, "data is not valid JSON", raw)
    else:
        event.setdefault("data", None)
    return Incoming(pubsub, topic, event, raw=raw)


class Publisher:
    """Dapr pub/sub publish over the sidecar's HTTP API (dead letters)."""

    def __init__(
        self, http: httpx.AsyncClient, dapr_http_endpoint: str, dapr_api_token: str | None
    ) -> None:
        self.http = http
        self.base = f"{dapr_http_endpoint.rstrip('/')}/v1.0/publish"
        self.headers = {"dapr-api-token": dapr_api_token} if dapr_api_token else {}

    async def publish(self, pubsub: str, topic: str, data: dict[str, Any]) -> bool:
        try:
            response = await self.http.post(
                f"{self.base}/{pubsub}/{topic}", json=data, headers=self.headers
            )
        except httpx.HTTPError as exc:
            _log.warning("publishing to %s/%s failed: %s", pubsub, topic, exc)
            return False
        if response.status_code >= 300:
            _log.warning(
                "publishing to %s/%s failed: %s %s",
                pubsub,
                topic,
                response.status_code,
                response.text[:300],
            )
            return False
        return True


async def active_event_triggers(rt: service.Triggers, pubsub: str, topic: str) -> list[Trigger]:
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(Trigger).where(Trigger.active.is_(True), Trigger.kind == "event")
        )
        found = []
        for row in rows:
            config = service.config_of(row)
            if config.pubsub_name == pubsub and config.topic == topic:
                found.append(row)
        return found


async def subscribed_topics(rt: service.Triggers) -> set[tuple[str, str]]:
    """The distinct (pubsub, topic) pairs of active event triggers."""
    async with rt.sessions() as session:
        rows = await session.scalars(
            select(Trigger).where(Trigger.active.is_(True), Trigger.kind == "event")
        )
        pairs = set()
        for row in rows:
            config = service.config_of(row)
            if config.topic:
                pairs.add((config.pubsub_name, config.topic))
        return pairs


async def handle(rt: service.Triggers, publisher: Publisher, incoming: Incoming) -> Outcome:
    """Process one delivered message; ``retry`` asks Dapr to deliver it again."""
    outcome = Outcome("success")
    for row in await active_event_triggers(rt, incoming.pubsub, incoming.topic):
        config = service.config_of(row)
        reason = incoming.malformed or _reject_reason(config, incoming.event)
        if reason == "no match":
            continue
        if reason is not None:
            if not await _dead_letter(publisher, row, config, incoming, reason):
                outcome.ack = "retry"
            else:
                outcome.dead_lettered.append(row.id)
            continue
        assert incoming.event is not None
        ack = await _fire(rt, row, incoming)
        if ack == "retry":
            outcome.ack = "retry"
        else:
            outcome.started.append(row.id)
    return outcome


def _reject_reason(config: TriggerConfig, event: dict[str, Any] | None) -> str | None:
    """None when the event should start a run; ``"no match"`` when the filter says no;
    otherwise why the event is malformed for this trigger."""
    if event is None:
        return "not a CloudEvent"
    if config.filter:
        try:
            matched = compile_expression(config.filter).evaluate_with({"event": event})
        except ExpressionError as exc:
            return f"the filter failed on this event: {exc}"
        if not isinstance(matched, bool):
            return f"the filter must give true or false, got {matched!r}"
        if not matched:
            return "no match"
    problem = schema_problem(config.input_schema, event)
    if problem is not None:
        return f"the event does not match the trigger's input schema: {problem}"
    return None


async def _dead_letter(
    publisher: Publisher,
    row: Trigger,
    config: TriggerConfig,
    incoming: Incoming,
    reason: str,
) -> bool:
    body = {
        "reason": reason,
        "workflowId": row.workflow_id,
        "triggerId": row.id,
        "pubsubName": incoming.pubsub,
        "topic": incoming.topic,
        "event": incoming.event if incoming.event is not None else incoming.raw,
        "rejectedAt": utcnow().isoformat(),
    }
    _log.info("event on %s dead-lettered for %s: %s", incoming.topic, row.workflow_id, reason)
    return await publisher.publish(incoming.pubsub, config.resolved_dead_letter_topic, body)


async def _fire(rt: service.Triggers, row: Trigger, incoming: Incoming) -> Ack:
    assert incoming.event is not None
    key = f"event:{incoming.pubsub}/{incoming.topic}/{incoming.event['id']}"
    async with transaction(rt.sessions) as session:
        current = await session.get(Trigger, row.id)
        if current is None or not current.active or current.generation != row.generation:
            return "success"  # swapped meanwhile: the new generation's rows decide
        existing = await service.firing_by_key(session, row.workflow_id, key)
        if existing is not None and existing.status != "pending":
            return "success"  # a redelivery (or another replica) already handled it
        if existing is None:
            firing = service.new_firing(current, key, "pending", trigger_data=incoming.event)
            if await service.claim(session, firing) is None:
                return "success"
            firing_id = firing.id
        else:
            firing_id = existing.id
    try:
        await service.dispatch(rt, firing_id)
    except service.TRANSIENT:
        return "retry"
    return "success"
