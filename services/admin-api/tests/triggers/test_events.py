"""Event triggers: one streaming subscription per topic, CEL filters over the
CloudEvent, one run per CloudEvent id, dead letters with a reason, stop and swap."""

from __future__ import annotations

import json
import uuid

import pytest
from admin_api_testkit import Api
from admin_api_triggers_kit import TriggerStack, deployed, eventually

pytestmark = pytest.mark.integration


def event_trigger(topic: str, **extra: object) -> dict[str, object]:
    return {"triggerType": "event", "topic": topic, **extra}


def topic() -> str:
    return f"orders-{uuid.uuid4().hex[:8]}"


async def acked(stack: TriggerStack, message: str) -> str:
    ack: str = await eventually(lambda: stack.broker.ack_of(message))
    return ack


class TestEvents:
    async def test_a_matching_event_starts_one_run_with_the_cloud_event(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        name = topic()
        d = await deployed(tapi, event_trigger(name, filter="event.data.total > 10"))
        broker, sidecar = trigger_stack.broker, trigger_stack.sidecar
        await eventually(lambda: ("pubsub", name) in broker.open)
        hit = broker.publish(name, json.dumps({"total": 12}).encode(), event_id="evt-1")
        assert await acked(trigger_stack, hit) == "success"
        [run] = sidecar.runs_of(d.workflow)
        assert run["triggerData"]["id"] == "evt-1"
        assert run["triggerData"]["data"] == {"total": 12}
        assert run["triggerData"]["type"] == "test.event"
        assert run["labels"]["trigger"] == "event"
        miss = broker.publish(name, json.dumps({"total": 3}).encode())
        assert await acked(trigger_stack, miss) == "success"
        again = broker.publish(name, json.dumps({"total": 12}).encode(), event_id="evt-1")
        assert await acked(trigger_stack, again) == "success"
        assert len(sidecar.runs_of(d.workflow)) == 1  # no match; the redelivery deduped
        [firing] = await d.firings()
        assert firing["occurrenceKey"] == f"event:pubsub/{name}/evt-1"

    async def test_without_a_filter_every_event_matches(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        name = topic()
        d = await deployed(tapi, event_trigger(name))
        broker = trigger_stack.broker
        await eventually(lambda: ("pubsub", name) in broker.open)
        for _ in range(2):
            await acked(trigger_stack, broker.publish(name, b'{"a": 1}'))
        assert len(trigger_stack.sidecar.runs_of(d.workflow)) == 2

    @pytest.mark.parametrize(
        ("data", "content_type", "config", "reason"),
        [
            (b"{broken", "application/json", {}, "data is not valid JSON"),
            (b"plain words", "text/plain", {}, "data is not JSON"),
            (
                b'{"total": "lots"}',
                "application/json",
                {"filter": "event.data.total > 10"},
                "the filter failed",
            ),
            (
                b'{"total": 1}',
                "application/json",
                {
                    "inputSchema": {
                        "type": "object",
                        "properties": {"data": {"required": ["sku"]}},
                    },
                    "deadLetterTopic": "rejects",
                },
                "input schema",
            ),
        ],
    )
    async def test_malformed_events_go_to_the_dead_letter_topic(
        self,
        tapi: Api,
        trigger_stack: TriggerStack,
        data: bytes,
        content_type: str,
        config: dict[str, object],
        reason: str,
    ) -> None:
        name = topic()
        d = await deployed(tapi, event_trigger(name, **config))
        broker, sidecar = trigger_stack.broker, trigger_stack.sidecar
        await eventually(lambda: ("pubsub", name) in broker.open)
        message = broker.publish(name, data, content_type=content_type)
        assert await acked(trigger_stack, message) == "success"
        dead_topic = config.get("deadLetterTopic", f"{name}.deadletter")
        with sidecar.lock:
            [(pubsub, where, body)] = [p for p in sidecar.published if p[2]["topic"] == name]
        assert (pubsub, where) == ("pubsub", dead_topic)
        assert reason in body["reason"]
        assert body["workflowId"] == d.workflow
        assert sidecar.runs_of(d.workflow) == []

    async def test_one_subscription_per_topic_closed_on_stop(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        name = topic()
        first = await deployed(tapi, event_trigger(name))
        second = await deployed(tapi, event_trigger(name, filter="event.data.n == 2"))
        broker = trigger_stack.broker
        await eventually(lambda: ("pubsub", name) in broker.open)
        message = broker.publish(name, b'{"n": 2}')
        await acked(trigger_stack, message)
        assert len(trigger_stack.sidecar.runs_of(first.workflow)) == 1
        assert len(trigger_stack.sidecar.runs_of(second.workflow)) == 1
        await first.stop()
        late = broker.publish(name, b'{"n": 2}')
        await acked(trigger_stack, late)
        assert len(trigger_stack.sidecar.runs_of(first.workflow)) == 1
        assert ("pubsub", name) in broker.open  # the second workflow still listens
        await second.stop()
        await eventually(lambda: ("pubsub", name) not in broker.open)

    async def test_a_new_version_moves_the_subscription(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        old, new = topic(), topic()
        d = await deployed(tapi, event_trigger(old))
        broker = trigger_stack.broker
        await eventually(lambda: ("pubsub", old) in broker.open)
        await d.deploy(event_trigger(new))
        await eventually(lambda: ("pubsub", new) in broker.open)
        await eventually(lambda: ("pubsub", old) not in broker.open)
        await acked(trigger_stack, broker.publish(new, b"{}"))
        [run] = trigger_stack.sidecar.runs_of(d.workflow)
        assert run["labels"]["version"] == "2"

    async def test_an_unavailable_orchestrator_asks_for_redelivery(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        name = topic()
        d = await deployed(tapi, event_trigger(name))
        broker, sidecar = trigger_stack.broker, trigger_stack.sidecar
        await eventually(lambda: ("pubsub", name) in broker.open)
        sidecar.fail_start_with = 503
        try:
            message = broker.publish(name, b"{}", event_id="retry-me")
            assert await acked(trigger_stack, message) == "retry"
        finally:
            sidecar.fail_start_with = None
        await eventually(lambda: broker.ack_of(message) == "success")
        assert len(sidecar.runs_of(d.workflow)) == 1
