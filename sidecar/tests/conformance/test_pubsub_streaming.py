"""Streaming subscriptions (``SubscribeTopicEventsAlpha1``) with the Dapr SDK's
``DaprClient.subscribe`` / ``subscribe_with_handler`` and the asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.aio.clients import DaprClient as AsyncDaprClient
from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.clients.grpc.subscription import Subscription
from dapr.common.pubsub.subscription import SubscriptionMessage

from wfb_sidecar.testing import AppPorts, SidecarProcess, TinyApp, dapr_settings, wait_until

pytestmark = pytest.mark.integration

PUBSUB = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "pubsub"},
    "spec": {
        "type": "pubsub.in-memory",
        "version": "v1",
        "metadata": [
            {"name": "backOffInitialInterval", "value": "50ms"},
            {"name": "backOffMaxInterval", "value": "200ms"},
            {"name": "backOffMaxRetries", "value": "2"},
        ],
    },
}


class Platform:
    def __init__(self, sidecar: SidecarProcess, audit: TinyApp) -> None:
        self.sidecar = sidecar
        self.audit = audit
        self.pool = ThreadPoolExecutor(8)

    @contextlib.contextmanager
    def client(self, app_id: str = "listener") -> Iterator[DaprClient]:
        with dapr_settings(self.sidecar, app_id) as address, DaprClient(address=address) as client:
            yield client

    @contextlib.contextmanager
    def subscription(
        self, topic: str, dead_letter_topic: str | None = None, app_id: str = "listener"
    ) -> Iterator[Subscription]:
        with self.client(app_id) as client:
            sub = client.subscribe("pubsub", topic, dead_letter_topic=dead_letter_topic)
            try:
                yield sub
            finally:
                sub.close()

    def next(self, sub: Subscription, timeout: float = 15) -> SubscriptionMessage:
        """The next message, failing (not hanging) when none comes."""
        message: SubscriptionMessage = self.pool.submit(sub.next_message).result(timeout)
        return message

    def nothing_within(self, sub: Subscription, seconds: float) -> bool:
        future = self.pool.submit(sub.next_message)
        try:
            future.result(seconds)
        except TimeoutError:
            return True
        return False

    def publish(self, topic: str, data: Any) -> None:
        with self.client("publisher") as client:
            client.publish_event(
                "pubsub", topic, json.dumps(data), data_content_type="application/json"
            )

    def metrics(self) -> str:
        return httpx.get(f"{self.sidecar.url('publisher')}/metrics").text


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("streaming")
    audit = TinyApp(subscriptions=[{"pubsubname": "pubsub", "topic": "fan", "route": "/fan"}])
    audit.start()
    sidecar = SidecarProcess(
        directory,
        [AppPorts("publisher", None), AppPorts("listener", None), AppPorts("audit", audit.port)],
        {"pubsub.yaml": [PUBSUB]},
    )
    sidecar.start()
    wait_until(
        lambda: httpx.get(f"{sidecar.url('audit')}/v1.0/metadata").json()["subscriptions"], 30
    )
    platform = Platform(sidecar, audit)
    yield platform
    platform.pool.shutdown(wait=False, cancel_futures=True)
    sidecar.stop()
    audit.stop()


class TestDelivery:
    def test_receive_and_success(self, platform: Platform) -> None:
        with platform.subscription("basic") as sub:
            platform.publish("basic", {"order": 1})
            message = platform.next(sub)
            assert message.data() == {"order": 1}
            assert message.topic() == "basic"
            assert message.pubsub_name() == "pubsub"
            assert message.source() == "publisher"
            assert message.type() == "com.dapr.event.sent"
            assert message.data_content_type() == "application/json"
            assert "traceparent" in message.extensions() or "time" in message.extensions()
            sub.respond_success(message)
            assert platform.nothing_within(sub, 1.0)  # acknowledged: not delivered again
        assert 'outcome="success",pubsub="pubsub",topic="basic"' in platform.metrics()

    def test_retry_redelivers_the_same_event(self, platform: Platform) -> None:
        with platform.subscription("retried") as sub:
            platform.publish("retried", {"n": 1})
            first = platform.next(sub)
            sub.respond_retry(first)
            again = platform.next(sub)
            assert again.id() == first.id()
            assert again.data() == {"n": 1}
            sub.respond_success(again)

    def test_drop_goes_to_the_dead_letter_topic(self, platform: Platform) -> None:
        with (
            platform.subscription("dropped", dead_letter_topic="dropped-dead") as sub,
            platform.subscription("dropped-dead") as dead,
        ):
            platform.publish("dropped", {"poison": True})
            message = platform.next(sub)
            sub.respond_drop(message)
            letter = platform.next(dead)
            assert letter.data() == {"poison": True}
            assert letter.id() == message.id()
            dead.respond_success(letter)
            assert platform.nothing_within(sub, 0.5)

    def test_drop_without_dead_letter_topic_is_dropped(self, platform: Platform) -> None:
        with platform.subscription("dropped-plain") as sub:
            platform.publish("dropped-plain", {"x": 1})
            sub.respond_drop(platform.next(sub))
            assert platform.nothing_within(sub, 1.0)
        assert 'outcome="drop",pubsub="pubsub",topic="dropped-plain"' in platform.metrics()

    def test_exhausted_retries_go_to_the_dead_letter_topic(self, platform: Platform) -> None:
        with (
            platform.subscription("doomed", dead_letter_topic="doomed-dead") as sub,
            platform.subscription("doomed-dead") as dead,
        ):
            platform.publish("doomed", {"doomed": True})
            ids = []
            for _ in range(3):  # the first delivery and backOffMaxRetries=2 retries
                message = platform.next(sub)
                ids.append(message.id())
                sub.respond_retry(message)
            assert len(set(ids)) == 1
            letter = platform.next(dead)
            assert letter.data() == {"doomed": True}
            dead.respond_success(letter)
            assert platform.nothing_within(sub, 0.5)

    def test_http_publish_reaches_a_stream(self, platform: Platform) -> None:
        with platform.subscription("over-http") as sub:
            response = httpx.post(
                f"{platform.sidecar.url('publisher')}/v1.0/publish/pubsub/over-http",
                content=b"plain words",
                headers={"content-type": "text/plain"},
            )
            assert response.status_code == 204
            message = platform.next(sub)
            assert message.data() == "plain words"
            assert message.raw_data() == b"plain words"
            sub.respond_success(message)

    def test_streams_and_http_subscribers_each_get_a_copy(self, platform: Platform) -> None:
        with platform.subscription("fan") as sub:
            platform.publish("fan", {"fan": "out"})
            message = platform.next(sub)
            sub.respond_success(message)
        seen = wait_until(lambda: platform.audit.received("/fan"), 15)
        assert seen[0].json()["id"] == message.id()


class TestSharingAndClosing:
    def test_two_streams_of_one_app_share_the_messages(self, platform: Platform) -> None:
        received: dict[str, list[Any]] = {"a": [], "b": []}
        lock = threading.Lock()

        def handler(name: str) -> Any:
            def handle(message: SubscriptionMessage) -> TopicEventResponse:
                with lock:
                    received[name].append(message.data()["n"])
                return TopicEventResponse("success")

            return handle

        with platform.client() as client_a, platform.client() as client_b:
            close_a = client_a.subscribe_with_handler("pubsub", "shared", handler("a"))
            close_b = client_b.subscribe_with_handler("pubsub", "shared", handler("b"))
            try:
                for n in range(8):
                    platform.publish("shared", {"n": n})
                wait_until(lambda: len(received["a"]) + len(received["b"]) >= 8, 20)
            finally:
                close_a()
                close_b()
        everything = received["a"] + received["b"]
        assert sorted(everything) == list(range(8))  # each message exactly once
        assert received["a"] and received["b"]  # and both streams got some

    def test_a_message_in_flight_on_a_closed_stream_goes_to_another(
        self, platform: Platform
    ) -> None:
        with platform.client() as client:
            first = client.subscribe("pubsub", "handover")
            platform.publish("handover", {"n": 1})
            message = platform.next(first)  # in flight on the first stream, unanswered
            with platform.subscription("handover") as second:
                waiting = platform.pool.submit(second.next_message)
                first.close()
                again = waiting.result(15)
                assert again.id() == message.id()
                second.respond_success(again)

    def test_a_message_in_flight_is_redelivered_after_reconnect(self, platform: Platform) -> None:
        with platform.subscription("reconnect") as sub:
            platform.publish("reconnect", {"n": 7})
            message = platform.next(sub)
        # closed without an answer; a new stream of the same app gets it again
        with platform.subscription("reconnect") as again:
            redelivered = platform.next(again)
            assert redelivered.id() == message.id()
            assert redelivered.data() == {"n": 7}
            again.respond_success(redelivered)

    def test_messages_published_while_no_stream_is_open_wait_for_one(
        self, platform: Platform
    ) -> None:
        with platform.subscription("later"):
            pass  # the app's consumer group exists from now on
        platform.publish("later", {"while": "closed"})
        with platform.subscription("later") as sub:
            message = platform.next(sub)
            assert message.data() == {"while": "closed"}
            sub.respond_success(message)

    def test_metadata_lists_open_streams(self, platform: Platform) -> None:
        with platform.subscription("listed", dead_letter_topic="listed-dead"):
            doc = httpx.get(f"{platform.sidecar.url('listener')}/v1.0/metadata").json()
            (entry,) = [s for s in doc["subscriptions"] if s["topic"] == "listed"]
            assert entry["type"] == "STREAMING"
            assert entry["deadLetterTopic"] == "listed-dead"
            assert "wfb_sidecar_pubsub_streams" in platform.metrics()

    def test_unknown_pubsub_is_refused(self, platform: Platform) -> None:
        with platform.client() as client, pytest.raises(Exception, match="pubsub nope not found"):
            client.subscribe("nope", "topic")


def test_app_restart_and_discovery_keep_a_streaming_group(platform: Platform) -> None:
    """The audit app (an HTTP app) also streams a topic; when it restarts, rediscovering its
    programmatic subscriptions must not take the streaming group (and its messages) away."""
    with platform.subscription("audit-stream", app_id="audit"):
        pass
    discoveries = platform.sidecar.logs().count("app audit subscriptions")
    port = platform.audit.port
    platform.audit.stop()
    platform.publish("audit-stream", {"kept": True})
    platform.audit = TinyApp(port, subscriptions=platform.audit.subscriptions).start()
    wait_until(lambda: platform.sidecar.logs().count("app audit subscriptions") > discoveries, 15)
    with platform.subscription("audit-stream", app_id="audit") as sub:
        message = platform.next(sub)
        assert message.data() == {"kept": True}
        sub.respond_success(message)


def test_asyncio_client_subscribe(platform: Platform) -> None:
    async def scenario() -> dict[str, Any]:
        with dapr_settings(platform.sidecar, "listener") as address:
            async with AsyncDaprClient(address=address) as client:
                sub = await client.subscribe("pubsub", "async-topic")
                try:
                    platform.publish("async-topic", {"async": True})
                    message = await asyncio.wait_for(sub.next_message(), 15)
                    await sub.respond_success(message)
                    data: dict[str, Any] = message.data()
                    return data
                finally:
                    await sub.close()

    assert asyncio.run(scenario()) == {"async": True}
