"""Executions read from the orchestrator (filtered by the project's labels) and the
dashboard aggregates computed from them."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from admin_api.dashboard.schemas import Dashboard, DayStats, Durations, ErrorCount, WorkflowStats
from admin_api.orchestrator_client import OrchestratorClient, Run

SUCCESS = "COMPLETED"
FINISHED = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration_ms(run: Run) -> float | None:
    if run.duration_ms is not None:
        return run.duration_ms
    start, end = parse_time(run.started_at), parse_time(run.completed_at)
    return (end - start).total_seconds() * 1000 if start and end else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def status_of(run: Run) -> str:
    return (run.runtime_status or run.phase or "UNKNOWN").upper()


def error_message(error: Any) -> str | None:
    if error in (None, "", {}):
        return None
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or error
    return str(error)[:300]


def success_rate(statuses: Counter[str]) -> float | None:
    finished = sum(statuses[s] for s in FINISHED)
    return round(statuses[SUCCESS] / finished, 4) if finished else None


def durations(runs: Iterable[Run]) -> Durations:
    values = [d for r in runs if status_of(r) in FINISHED and (d := duration_ms(r)) is not None]
    return Durations(p50_ms=percentile(values, 50), p95_ms=percentile(values, 95))


async def collect_runs(
    client: OrchestratorClient,
    labels: dict[str, str],
    authorization: str | None,
    since: datetime,
    max_runs: int,
) -> tuple[list[Run], bool]:
    runs: list[Run] = []
    cursor: str | None = None
    while True:
        page = await client.list_runs(labels, authorization, limit=200, cursor=cursor)
        runs.extend(page.items)
        cursor = page.next_cursor
        if not cursor or len(runs) >= max_runs:
            break
    in_window = [r for r in runs if (t := parse_time(r.started_at)) is not None and t >= since]
    return in_window, cursor is not None


def aggregate(
    project_id: str, days: int, runs: list[Run], names: dict[str, str], truncated: bool
) -> Dashboard:
    by_status = Counter(status_of(r) for r in runs)
    errors = Counter(m for r in runs if (m := error_message(r.error)))
    per_workflow: dict[str, list[Run]] = defaultdict(list)
    per_day: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        per_workflow[run.labels.get("workflowId") or run.workflow_id or "unknown"].append(run)
        started = parse_time(run.started_at)
        if started:
            per_day[started.astimezone(UTC).date().isoformat()].append(run)
    workflows = []
    for workflow_id, items in sorted(per_workflow.items(), key=lambda kv: -len(kv[1])):
        statuses = Counter(status_of(r) for r in items)
        workflows.append(
            WorkflowStats(
                workflow_id=workflow_id,
                name=names.get(workflow_id),
                total=len(items),
                by_status=dict(statuses),
                success_rate=success_rate(statuses),
                durations=durations(items),
            )
        )
    return Dashboard(
        project_id=project_id,
        days=days,
        total=len(runs),
        by_status=dict(by_status),
        success_rate=success_rate(by_status),
        durations=durations(runs),
        top_errors=[ErrorCount(message=m, count=c) for m, c in errors.most_common(10)],
        per_workflow=workflows,
        per_day=[
            DayStats(
                day=day, total=len(items), by_status=dict(Counter(status_of(r) for r in items))
            )
            for day, items in sorted(per_day.items())
        ],
        truncated=truncated,
    )


def window_start(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
