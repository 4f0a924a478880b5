"""Prometheus metrics of the sidecar (one registry; the workflow backend adds its own)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wfb_sidecar.pubsub.store import GroupKey

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SidecarMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.invocations = Counter(
            "wfb_sidecar_invocations",
            "Service invocations through the sidecar, by caller, target and HTTP status "
            "('error' when no response came back)",
            ["caller", "target", "status"],
            registry=registry,
        )
        self.invocation_seconds = Histogram(
            "wfb_sidecar_invocation_duration_seconds",
            "Time until the target app's response headers arrived",
            ["target"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.published = Counter(
            "wfb_sidecar_pubsub_published",
            "Messages accepted for publishing (persisted)",
            ["app_id", "pubsub", "topic"],
            registry=registry,
        )
        self.deliveries = Counter(
            "wfb_sidecar_pubsub_deliveries",
            "Delivery attempts to subscribers by outcome: success, retry, drop, not_found "
            "(404, dropped), dead_letter, undeliverable (retries exhausted, no dead-letter "
            "topic), expired (TTL), no_route",
            ["app_id", "pubsub", "topic", "outcome"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "wfb_sidecar_pubsub_delivery_duration_seconds",
            "Time a subscriber took to answer a delivery",
            ["app_id", "pubsub", "topic"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.secret_requests = Counter(
            "wfb_sidecar_secret_requests",
            "Secret reads by app, store and outcome (ok, denied, not_found, error)",
            ["app_id", "store", "outcome"],
            registry=registry,
        )
        self.jobs_scheduled = Counter(
            "wfb_sidecar_jobs_scheduled",
            "Jobs scheduled (created or overwritten) through the Jobs API, by app",
            ["app_id"],
            registry=registry,
        )
        self.job_triggers = Counter(
            "wfb_sidecar_job_triggers",
            "Job deliveries to apps by outcome: success, retry (failed, will retry), failed "
            "(retries exhausted, occurrence dropped), not_found (404, dropped), expired (ttl)",
            ["app_id", "outcome"],
            registry=registry,
        )
        self.job_trigger_seconds = Histogram(
            "wfb_sidecar_job_trigger_duration_seconds",
            "Time an app took to answer a job delivery",
            ["app_id"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.jobs_stored = Gauge(
            "wfb_sidecar_jobs",
            "Jobs currently stored (scheduled and not complete), by app",
            ["app_id"],
            registry=registry,
        )
        self.streams = Gauge(
            "wfb_sidecar_pubsub_streams",
            "Open streaming subscriptions (SubscribeTopicEventsAlpha1), by app, pub/sub and topic",
            ["app_id", "pubsub", "topic"],
            registry=registry,
        )


class PubSubQueueCollector(Collector):
    """Pending deliveries per subscriber group and unclaimed messages, read at scrape time."""

    def __init__(
        self,
        depths: Callable[[], list[tuple[GroupKey, int]]],
        unclaimed: Callable[[], list[tuple[str, str, int]]],
        undeliverable: Callable[[], int],
    ) -> None:
        self._depths = depths
        self._unclaimed = unclaimed
        self._undeliverable = undeliverable

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "wfb_sidecar_pubsub_queue_depth",
            "Messages waiting to be delivered to a subscriber app",
            labels=["app_id", "pubsub", "topic"],
        )
        for group, count in self._depths():
            depth.add_metric([group.app_id, group.pubsub, group.topic], count)
        unclaimed = GaugeMetricFamily(
            "wfb_sidecar_pubsub_unclaimed_messages",
            "Messages published to a topic before any app subscribed to it (kept for "
            "unclaimedRetention)",
            labels=["pubsub", "topic"],
        )
        for pubsub, topic, count in self._unclaimed():
            unclaimed.add_metric([pubsub, topic], count)
        parked = GaugeMetricFamily(
            "wfb_sidecar_pubsub_undeliverable_messages",
            "Messages whose retries were exhausted without a dead-letter topic (kept in the "
            "undeliverable table of pubsub.db)",
        )
        parked.add_metric([], self._undeliverable())
        return [depth, unclaimed, parked]
