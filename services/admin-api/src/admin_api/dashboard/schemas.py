from __future__ import annotations

from typing import Any

from admin_api.schemas import ApiModel


class ExecutionOut(ApiModel):
    instance_id: str
    workflow_id: str | None = None
    runtime_status: str | None = None
    phase: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    error: Any = None
    labels: dict[str, str] = {}
    duration_ms: float | None = None


class Durations(ApiModel):
    p50_ms: float | None = None
    p95_ms: float | None = None


class WorkflowStats(ApiModel):
    workflow_id: str
    name: str | None
    total: int
    by_status: dict[str, int]
    success_rate: float | None
    durations: Durations


class DayStats(ApiModel):
    day: str
    total: int
    by_status: dict[str, int]


class ErrorCount(ApiModel):
    message: str
    count: int


class Dashboard(ApiModel):
    project_id: str
    days: int
    total: int
    by_status: dict[str, int]
    success_rate: float | None
    durations: Durations
    top_errors: list[ErrorCount]
    per_workflow: list[WorkflowStats]
    per_day: list[DayStats]
    truncated: bool
