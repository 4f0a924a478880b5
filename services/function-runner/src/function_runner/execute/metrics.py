"""Step metrics with the names of seed 002 §3d (``workflow_step_*``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ExecutionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "workflow_step_duration_seconds",
            "Duration of function executions (one step of a workflow)",
            ["pipeline", "step", "type", "tenant"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.executions = Counter(
            "workflow_step_executions_total",
            "Function executions by outcome (success, failure, timeout, rejected)",
            ["pipeline", "step", "status"],
            registry=registry,
        )
        self.retries = Counter(
            "workflow_step_retries_total",
            "Attempts after the first, the orchestrator's and the runner's own",
            ["pipeline", "step", "tenant"],
            registry=registry,
        )
        self.active = Gauge(
            "function_runner_active_executions",
            "Executions running now in this process",
            ["step"],
            registry=registry,
        )
