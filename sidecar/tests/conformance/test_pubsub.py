"""Pub/sub through the sidecar: publishing with the Dapr SDK, delivery to real apps."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from starlette.responses import JSONResponse, Response

from wfb_sidecar.testing import (
    AppPorts,
    Recorded,
    SidecarProcess,
    TinyApp,
    dapr_settings,
    plain_request,
    wait_until,
)

pytestmark = pytest.mark.integration

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def pubsub(name: str, **metadata: str) -> dict[str, Any]:
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": "pubsub.in-memory",
            "version": "v1",
            "metadata": [{"name": k, "value": v} for k, v in metadata.items()],
        },
    }


FAST_RETRIES = {
    "backOffInitialInterval": "50ms",
    "backOffMaxInterval": "400ms",
    "backOffMaxRetries": "3",
}
SUBSCRIPTIONS = [
    {"pubsubname": "pubsub", "topic": "orders", "route": "/orders"},
    {
        "pubsubname": "pubsub",
        "topic": "routed",
        "routes": {
            "rules": [
                {"match": 'event.data.kind == "big"', "path": "/big"},
                {"match": 'event.type == "com.example.special"', "path": "/special"},
            ],
            "default": "/small",
        },
    },
    {"pubsubname": "pubsub", "topic": "flaky", "route": "flaky", "deadLetterTopic": "flaky-dead"},
    {"pubsubname": "pubsub", "topic": "flaky-dead", "route": "/dead"},
    {"pubsubname": "pubsub", "topic": "raw", "route": "/raw", "metadata": {"rawPayload": "true"}},
    {"pubsubname": "pubsub", "topic": "answers", "route": "/answers"},
    {"pubsubname": "pubsub", "topic": "ordered", "route": "/ordered"},
]
DECLARATIVE = {
    "apiVersion": "dapr.io/v2alpha1",
    "kind": "Subscription",
    "metadata": {"name": "audit-orders"},
    "spec": {"pubsubname": "pubsub", "topic": "orders", "routes": {"default": "/audit"}},
    "scopes": ["audit"],
}


class Platform:
    def __init__(self, sidecar: SidecarProcess, orders: TinyApp, audit: TinyApp) -> None:
        self.sidecar = sidecar
        self.orders = orders
        self.audit = audit

    @contextlib.contextmanager
    def client(self, app_id: str = "publisher") -> Iterator[DaprClient]:
        with dapr_settings(self.sidecar, app_id) as address, DaprClient(address=address) as client:
            yield client

    def publish_json(self, topic: str, data: Any) -> None:
        """Publish through the SDK's DaprClient (gRPC PublishEvent), as services do."""
        with self.client() as client:
            client.publish_event(
                "pubsub", topic, json.dumps(data), data_content_type="application/json"
            )

    def publish_http(
        self, topic: str, body: bytes, content_type: str, pubsub: str = "pubsub", **headers: str
    ) -> httpx.Response:
        return httpx.post(
            f"{self.sidecar.url('publisher')}/v1.0/publish/{pubsub}/{topic}",
            content=body,
            headers={"content-type": content_type, **headers},
        )

    def metrics(self) -> str:
        return httpx.get(f"{self.sidecar.url('publisher')}/metrics").text


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("pubsub")
    orders = TinyApp(subscriptions=SUBSCRIPTIONS).start()
    audit = TinyApp().start()
    sidecar = SidecarProcess(
        directory,
        [
            AppPorts("publisher", None),
            AppPorts("orders", orders.port),
            AppPorts("audit", audit.port),
        ],
        {
            "pubsub.yaml": [
                pubsub("pubsub", **FAST_RETRIES),
                pubsub("scoped", publishingScopes="publisher=allowed"),
            ],
            "subscriptions.yaml": [DECLARATIVE],
        },
    )
    sidecar.start()

    def discovered() -> bool:
        doc = httpx.get(f"{sidecar.url('orders')}/v1.0/metadata").json()
        return len(doc["subscriptions"]) == len(SUBSCRIPTIONS)

    wait_until(discovered, 30)
    yield Platform(sidecar, orders, audit)
    sidecar.stop()
    orders.stop()
    audit.stop()


@pytest.fixture(autouse=True)
def _clear(platform: Platform) -> None:
    for app in (platform.orders, platform.audit):
        app.requests.clear()
        app.handlers.clear()


def wait_for(app: TinyApp, path: str, count: int = 1, timeout: float = 20) -> list[Recorded]:
    return wait_until(lambda: len(app.received(path)) >= count and app.received(path), timeout)  # type: ignore[no-any-return]


class TestCloudEvents:
    def test_sdk_publish_delivers_a_cloudevent(self, platform: Platform) -> None:
        with platform.client() as client:
            client.publish_event(
                "pubsub", "orders", json.dumps({"id": 1}), data_content_type="application/json"
            )
        (seen,) = wait_for(platform.orders, "/orders")
        assert seen.method == "POST"
        assert seen.headers["content-type"] == "application/cloudevents+json"
        event = seen.json()
        assert event["specversion"] == "1.0"
        assert event["type"] == "com.dapr.event.sent"
        assert event["source"] == "publisher"
        assert event["topic"] == "orders"
        assert event["pubsubname"] == "pubsub"
        assert event["datacontenttype"] == "application/json"
        assert event["data"] == {"id": 1}
        assert event["id"] and event["time"]

    def test_text_payload_and_trace_context(self, platform: Platform) -> None:
        status, _, _ = plain_request(
            "POST",
            f"{platform.sidecar.url('publisher')}/v1.0/publish/pubsub/orders",
            b"plain words",
            {"content-type": "text/plain", "traceparent": TRACEPARENT, "tracestate": "k=v"},
        )
        assert status == 204
        (seen,) = wait_for(platform.orders, "/orders")
        event = seen.json()
        assert event["data"] == "plain words"
        assert event["datacontenttype"] == "text/plain"
        assert event["traceparent"] == TRACEPARENT
        assert seen.headers["traceparent"] == TRACEPARENT
        assert seen.headers["tracestate"] == "k=v"

    def test_a_published_cloudevent_is_kept(self, platform: Platform) -> None:
        event = {
            "specversion": "1.0",
            "id": "my-id-1",
            "source": "billing",
            "type": "com.example.invoice",
            "datacontenttype": "application/json",
            "data": {"total": 12},
        }
        platform.publish_http("orders", json.dumps(event).encode(), "application/cloudevents+json")
        delivered = wait_for(platform.orders, "/orders")[0].json()
        assert {k: delivered[k] for k in event} == event
        assert delivered["topic"] == "orders"

    def test_cloudevent_overrides_from_metadata(self, platform: Platform) -> None:
        with platform.client() as client:
            client.publish_event(
                "pubsub",
                "orders",
                "x",
                publish_metadata={"cloudevent.id": "fixed-id", "cloudevent.type": "t.custom"},
            )
        event = wait_for(platform.orders, "/orders")[0].json()
        assert (event["id"], event["type"]) == ("fixed-id", "t.custom")

    def test_raw_payload_reaches_a_raw_subscriber_unchanged(self, platform: Platform) -> None:
        payload = bytes([0, 1, 2, 255])
        with platform.client() as client:
            client.publish_event(
                "pubsub",
                "raw",
                payload,
                publish_metadata={"rawPayload": "true"},
                data_content_type="application/octet-stream",
            )
        (seen,) = wait_for(platform.orders, "/raw")
        assert seen.body == payload
        assert seen.headers["content-type"] == "application/octet-stream"

    def test_bulk_publish_delivers_every_entry_in_order(self, platform: Platform) -> None:
        with platform.client() as client:
            response = client.publish_events(
                "pubsub",
                "ordered",
                [json.dumps({"n": n}) for n in range(5)],
                data_content_type="application/json",
            )
        assert response.failed_entries == []
        seen = wait_for(platform.orders, "/ordered", 5)
        assert [r.json()["data"]["n"] for r in seen] == [0, 1, 2, 3, 4]


class TestFanOutAndOrdering:
    def test_declarative_subscription_gets_its_own_copy(self, platform: Platform) -> None:
        platform.publish_json("orders", {"id": 9})
        assert wait_for(platform.audit, "/audit")[0].json()["data"] == {"id": 9}
        assert wait_for(platform.orders, "/orders")[0].json()["data"] == {"id": 9}

    def test_messages_arrive_in_publish_order_even_with_retries(self, platform: Platform) -> None:
        failed_once: set[int] = set()

        def flaky_every_third(r: Recorded) -> Response:
            n = r.json()["data"]["n"]
            if n % 3 == 0 and n not in failed_once:
                failed_once.add(n)
                return Response(status_code=500)
            return Response(status_code=200)

        platform.orders.handlers["/ordered"] = flaky_every_third
        with platform.client() as client:
            for n in range(12):
                client.publish_event(
                    "pubsub", "ordered", json.dumps({"n": n}), data_content_type="application/json"
                )
        wait_until(
            lambda: len({r.json()["data"]["n"] for r in platform.orders.received("/ordered")}) == 12
        )
        attempts = [r.json()["data"]["n"] for r in platform.orders.received("/ordered")]
        assert attempts == sorted(attempts), f"delivery out of order: {attempts}"


class TestRetriesAndOutcomes:
    def test_non_2xx_is_retried_with_growing_backoff(self, platform: Platform) -> None:
        calls: list[float] = []

        def fail_twice(r: Recorded) -> Response:
            calls.append(time.monotonic())
            return Response(status_code=503 if len(calls) <= 2 else 200)

        platform.orders.handlers["/flaky"] = fail_twice
        platform.publish_json("flaky", {"try": 1})
        wait_until(lambda: len(calls) == 3)
        time.sleep(0.3)
        assert len(calls) == 3  # acknowledged after the third attempt
        first_gap, second_gap = calls[1] - calls[0], calls[2] - calls[1]
        assert first_gap >= 0.045  # backOffInitialInterval 50ms
        assert second_gap >= 0.095  # doubled
        assert platform.orders.received("/dead") == []

    def test_retry_status_is_retried(self, platform: Platform) -> None:
        answers = iter([JSONResponse({"status": "RETRY"}), JSONResponse({"status": "SUCCESS"})])
        platform.orders.handlers["/answers"] = lambda r: next(answers)
        platform.publish_json("answers", {})
        wait_for(platform.orders, "/answers", 2)
        time.sleep(0.3)
        assert len(platform.orders.received("/answers")) == 2

    def test_drop_status_is_not_retried(self, platform: Platform) -> None:
        platform.orders.handlers["/answers"] = lambda r: JSONResponse({"status": "DROP"})
        platform.publish_json("answers", {"drop": True})
        wait_for(platform.orders, "/answers")
        time.sleep(0.5)
        assert len(platform.orders.received("/answers")) == 1
        assert platform.orders.received("/dead") == []
        assert 'outcome="drop",pubsub="pubsub",topic="answers"' in platform.metrics()

    def test_drop_status_goes_to_the_dead_letter_topic_when_there_is_one(
        self, platform: Platform
    ) -> None:
        platform.orders.handlers["/flaky"] = lambda r: JSONResponse({"status": "DROP"})
        platform.publish_json("flaky", {"poison": True})
        (dead,) = wait_for(platform.orders, "/dead")
        assert dead.json()["data"] == {"poison": True}
        assert len(platform.orders.received("/flaky")) == 1  # not retried

    def test_404_from_the_app_drops_the_message(self, platform: Platform) -> None:
        platform.orders.handlers["/answers"] = lambda r: Response(status_code=404)
        platform.publish_json("answers", {"gone": True})
        wait_for(platform.orders, "/answers")
        time.sleep(0.5)
        assert len(platform.orders.received("/answers")) == 1

    def test_exhausted_retries_go_to_the_dead_letter_topic(self, platform: Platform) -> None:
        platform.orders.handlers["/flaky"] = lambda r: Response(status_code=500)
        platform.publish_json("flaky", {"doomed": True})
        (dead,) = wait_for(platform.orders, "/dead", timeout=15)
        attempts = platform.orders.received("/flaky")
        assert len(attempts) == 4  # the first delivery and backOffMaxRetries=3 retries
        assert dead.json()["id"] == attempts[0].json()["id"]
        assert dead.json()["data"] == {"doomed": True}
        metrics = platform.metrics()
        assert 'outcome="dead_letter",pubsub="pubsub",topic="flaky"' in metrics
        assert 'outcome="retry",pubsub="pubsub",topic="flaky"' in metrics


class TestRouting:
    @pytest.mark.parametrize(
        ("payload", "event_type", "path"),
        [
            ({"kind": "big"}, None, "/big"),
            ({"kind": "small"}, None, "/small"),
            ({"kind": "big"}, "com.example.special", "/big"),
            ({"kind": "other"}, "com.example.special", "/special"),
        ],
    )
    def test_cel_rules_then_default(
        self, platform: Platform, payload: dict[str, str], event_type: str | None, path: str
    ) -> None:
        metadata = {"cloudevent.type": event_type} if event_type else {}
        with platform.client() as client:
            client.publish_event(
                "pubsub",
                "routed",
                json.dumps(payload),
                data_content_type="application/json",
                publish_metadata=metadata,
            )
        wait_for(platform.orders, path)
        assert [r.path for r in platform.orders.requests] == [path]


class TestErrorsAndScopes:
    def test_unknown_pubsub(self, platform: Platform) -> None:
        response = platform.publish_http("orders", b"x", "text/plain", pubsub="nope")
        assert response.status_code == 404
        assert response.json()["errorCode"] == "ERR_PUBSUB_NOT_FOUND"
        with platform.client() as client, pytest.raises(grpc.RpcError) as caught:
            client.publish_event("nope", "orders", "x")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_publishing_scopes(self, platform: Platform) -> None:
        assert (
            platform.publish_http("allowed", b"x", "text/plain", pubsub="scoped").status_code == 204
        )
        response = platform.publish_http("other", b"x", "text/plain", pubsub="scoped")
        assert response.status_code == 403
        assert response.json()["errorCode"] == "ERR_PUBSUB_FORBIDDEN"

    def test_invalid_cloudevent_body_is_a_400(self, platform: Platform) -> None:
        response = platform.publish_http("orders", b"{not json", "application/cloudevents+json")
        assert response.status_code == 400
        assert response.json()["errorCode"] == "ERR_PUBSUB_CLOUD_EVENTS_SER"

    def test_metadata_lists_subscriptions(self, platform: Platform) -> None:
        doc = httpx.get(f"{platform.sidecar.url('audit')}/v1.0/metadata").json()
        assert doc["subscriptions"] == [
            {
                "pubsubname": "pubsub",
                "topic": "orders",
                "metadata": {},
                "rules": [{"match": "", "path": "/audit"}],
                "deadLetterTopic": "",
                "type": "DECLARATIVE",
            }
        ]
        with platform.client("orders") as client:
            metadata = client.get_metadata()
        assert metadata.application_id == "orders"
        assert {c.name for c in metadata.registered_components} == {"pubsub", "scoped"}

    def test_queue_depth_is_exported(self, platform: Platform) -> None:
        assert "wfb_sidecar_pubsub_queue_depth" in platform.metrics()
        assert 'wfb_sidecar_pubsub_published_total{app_id="publisher"' in platform.metrics()
