"""Prometheus metrics of the workflow backend."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "wfb_sidecar_workflow"


class GaugeSnapshot:
    """Current queue sizes, read from the scheduler when Prometheus scrapes."""

    def __init__(
        self,
        ready: dict[str, int],
        pending_activities: dict[str, int],
        turns_in_flight: dict[str, int],
        activities_in_flight: dict[str, int],
        streams: dict[str, int],
        pending_timers: int,
    ) -> None:
        self.ready = ready
        self.pending_activities = pending_activities
        self.turns_in_flight = turns_in_flight
        self.activities_in_flight = activities_in_flight
        self.streams = streams
        self.pending_timers = pending_timers


class _GaugeCollector(Collector):
    def __init__(self, snapshot: Callable[[], GaugeSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[GaugeMetricFamily]:
        snap = self._snapshot()
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth",
            "Work items waiting for a worker, by kind",
            labels=["app_id", "kind"],
        )
        for app_id, n in snap.ready.items():
            depth.add_metric([app_id, "orchestration"], n)
        for app_id, n in snap.pending_activities.items():
            depth.add_metric([app_id, "activity"], n)
        yield depth
        in_flight = GaugeMetricFamily(
            f"{PREFIX}_in_flight",
            "Work items dispatched to a worker and not yet completed, by kind",
            labels=["app_id", "kind"],
        )
        for app_id, n in snap.turns_in_flight.items():
            in_flight.add_metric([app_id, "orchestration"], n)
        for app_id, n in snap.activities_in_flight.items():
            in_flight.add_metric([app_id, "activity"], n)
        yield in_flight
        streams = GaugeMetricFamily(
            f"{PREFIX}_worker_streams", "Connected worker streams", labels=["app_id"]
        )
        for app_id, n in snap.streams.items():
            streams.add_metric([app_id], n)
        yield streams
        yield GaugeMetricFamily(
            f"{PREFIX}_pending_timers",
            "Durable timers scheduled and not yet fired",
            value=snap.pending_timers,
        )


class WorkflowMetrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], GaugeSnapshot]) -> None:
        self.dispatched = Counter(
            f"{PREFIX}_work_items_dispatched",
            "Work items sent to workers, by kind",
            ["app_id", "kind"],
            registry=registry,
        )
        self.completed = Counter(
            f"{PREFIX}_work_items_completed",
            "Work item results committed, by kind",
            ["app_id", "kind"],
            registry=registry,
        )
        self.dropped = Counter(
            f"{PREFIX}_completions_dropped",
            "Stale or duplicate work item results ignored, by kind",
            ["app_id", "kind"],
            registry=registry,
        )
        self.redispatched = Counter(
            f"{PREFIX}_work_items_requeued",
            "Work items queued again after a worker stream closed or a turn lease expired",
            ["app_id", "kind"],
            registry=registry,
        )
        self.turn_latency = Histogram(
            f"{PREFIX}_turn_latency_seconds",
            "Time from dispatching an orchestration turn to committing its result",
            ["app_id"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.activity_latency = Histogram(
            f"{PREFIX}_activity_latency_seconds",
            "Time from dispatching an activity to committing its result",
            ["app_id"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300),
        )
        registry.register(_GaugeCollector(snapshot))
