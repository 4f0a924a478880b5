"""Executions index and the dashboard, read from the orchestrator by labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from admin_api_testkit import Api, FakeOrchestrator

from admin_api.dashboard.service import percentile

pytestmark = pytest.mark.integration


def run(
    project: str,
    workflow: str,
    status: str,
    minutes_ago: int,
    duration_ms: float | None,
    error: object = None,
) -> dict[str, object]:
    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "instanceId": f"{workflow}-{status}-{minutes_ago}",
        "workflowId": workflow,
        "runtimeStatus": status,
        "phase": status.lower(),
        "startedAt": started.isoformat(),
        "completedAt": (started + timedelta(milliseconds=duration_ms)).isoformat()
        if duration_ms
        else None,
        "error": error,
        "labels": {"projectId": project, "workflowId": workflow},
    }


async def test_dashboard_aggregates(api: Api, orchestrator: FakeOrchestrator) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    a = await api.workflow(owner, t.project)
    b = await api.workflow(owner, t.project)
    p, A, B = t.project, a["id"], b["id"]
    orchestrator.runs.extend(
        [
            run(p, A, "COMPLETED", 10, 100),
            run(p, A, "COMPLETED", 20, 200),
            run(p, A, "COMPLETED", 30, 300),
            run(p, A, "FAILED", 40, 400, {"message": "timeout calling api"}),
            run(p, B, "FAILED", 50, 1000, "timeout calling api"),
            run(p, B, "FAILED", 60, 2000, {"message": "bad input"}),
            run(p, B, "RUNNING", 5, None),
            run(p, B, "COMPLETED", 60 * 24 * 30, 50),  # outside the 7-day window
            run("another-project", A, "COMPLETED", 1, 10),
        ]
    )
    d = (await owner.get(f"/api/v1/projects/{p}/dashboard")).json()
    assert d["total"] == 7
    assert d["byStatus"] == {"COMPLETED": 3, "FAILED": 3, "RUNNING": 1}
    assert d["successRate"] == 0.5
    assert d["durations"] == {"p50Ms": 300.0, "p95Ms": 2000.0}
    assert d["topErrors"][0] == {"message": "timeout calling api", "count": 2}
    per = {w["workflowId"]: w for w in d["perWorkflow"]}
    assert per[A]["total"] == 4 and per[A]["successRate"] == 0.75 and per[A]["name"] == a["name"]
    assert per[B]["byStatus"] == {"FAILED": 2, "RUNNING": 1}
    assert sum(day["total"] for day in d["perDay"]) == 7
    wide = (await owner.get(f"/api/v1/projects/{p}/dashboard", params={"days": 60})).json()
    assert wide["total"] == 8
    assert (
        await owner.get(f"/api/v1/projects/{p}/dashboard", params={"days": 0})
    ).status_code == 422


async def test_executions_index_by_project_and_workflow(
    api: Api, orchestrator: FakeOrchestrator
) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    wf = await api.workflow(owner, t.project)
    orchestrator.runs.extend(run(t.project, wf["id"], "COMPLETED", i, 10) for i in range(3))
    orchestrator.runs.append(run(t.project, "other-wf", "FAILED", 1, 10))
    page = (await owner.get(f"/api/v1/projects/{t.project}/executions", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    rest = (
        await owner.get(
            f"/api/v1/projects/{t.project}/executions", params={"cursor": page["nextCursor"]}
        )
    ).json()
    assert len(page["items"]) + len(rest["items"]) == 4
    only = (await owner.get(f"/api/v1/workflows/{wf['id']}/executions")).json()["items"]
    assert len(only) == 3 and {r["labels"]["workflowId"] for r in only} == {wf["id"]}
    failed = (
        await owner.get(f"/api/v1/projects/{t.project}/executions", params={"status": "FAILED"})
    ).json()["items"]
    assert [r["workflowId"] for r in failed] == ["other-wf"]
    assert orchestrator.authorizations[-1] == owner.headers["authorization"]


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0
