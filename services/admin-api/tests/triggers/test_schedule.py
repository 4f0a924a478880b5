"""Schedule triggers: one chained one-shot Dapr job per trigger, firings exactly once per
occurrence, missed and overlap policies, stale generations, swaps and stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_api_testkit import Api
from admin_api_triggers_kit import Deployed, FakeSidecar, TriggerStack, deployed, eventually

pytestmark = pytest.mark.integration
HOURLY = {"triggerType": "schedule", "intervalSeconds": 3600}


def job_of(sidecar: FakeSidecar, d: Deployed) -> dict[str, Any] | None:
    with sidecar.lock:
        return sidecar.jobs.get(f"wfb-trigger-{d.workflow}-when")


async def fire(api: Api, d: Deployed, data: dict[str, Any], envelope: bool = False) -> Any:
    body = {"data": data} if envelope else data
    r = await api.http.post(f"/job/wfb-trigger-{d.workflow}-when", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def next_job(sidecar: FakeSidecar, d: Deployed, after: dict[str, Any]) -> dict[str, Any]:
    """The job's data once it differs from ``after`` (the chain moved on)."""

    def moved() -> dict[str, Any] | None:
        job = job_of(sidecar, d)
        return job["data"] if job and job["data"] != after else None

    found: dict[str, Any] = await eventually(moved)
    return found


async def current_job(sidecar: FakeSidecar, d: Deployed) -> dict[str, Any]:
    job: dict[str, Any] = await eventually(lambda: job_of(sidecar, d))
    return job


class TestChainedJobs:
    async def test_deploy_schedules_one_job_at_the_next_occurrence(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, HOURLY)
        job = await current_job(trigger_stack.sidecar, d)
        [row] = await d.triggers()
        assert job["overwrite"] is True
        assert job["data"] == {
            "workflowId": d.workflow,
            "triggerId": row["id"],
            "generation": row["generation"],
            "occurrence": job["dueTime"],
        }
        due = datetime.fromisoformat(job["dueTime"].replace("Z", "+00:00"))
        assert 3500 < (due - datetime.now(UTC)).total_seconds() <= 3600
        assert row["kind"] == "schedule" and row["active"] is True
        assert row["nextFireAt"] is not None

    async def test_a_delivery_starts_one_run_and_chains_the_next_occurrence(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        first = (await current_job(sidecar, d))["data"]
        result = await fire(tapi, d, first, envelope=True)  # Dapr's envelope is accepted too
        assert result["outcome"] == "started"
        [run] = sidecar.runs_of(d.workflow)
        assert run["labels"]["trigger"] == "schedule"
        assert run["triggerData"]["occurrence"] == first["occurrence"]
        nxt = (await eventually(lambda: (j := job_of(sidecar, d)) and j["data"] != first and j))[
            "data"
        ]
        gap = datetime.fromisoformat(
            nxt["occurrence"].replace("Z", "+00:00")
        ) - datetime.fromisoformat(first["occurrence"].replace("Z", "+00:00"))
        assert gap.total_seconds() == 3600
        again = await fire(tapi, d, first)  # redelivered (or delivered to a second replica)
        assert again["outcome"] == "duplicate"
        assert len(sidecar.runs_of(d.workflow)) == 1
        [firing] = await d.firings()
        assert firing["status"] == "started" and firing["kind"] == "schedule"
        assert firing["occurrenceKey"] == f"schedule:{first['occurrence']}"
        assert firing["instanceId"] == run["instanceId"]

    async def test_garbage_deliveries_are_acknowledged_and_ignored(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, HOURLY)
        data = (await current_job(trigger_stack.sidecar, d))["data"]
        assert (await fire(tapi, d, {"hello": 1}))["outcome"] == "ignored"
        forged = {**data, "occurrence": "2020-01-01T00:00:00Z"}
        assert (await fire(tapi, d, forged))["outcome"] == "stale"
        r = await tapi.http.post("/job/nothing", content=b"not json")
        assert r.status_code == 200
        assert trigger_stack.sidecar.runs_of(d.workflow) == []


class TestGenerations:
    async def test_swap_without_gap_or_double_start(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        old = (await current_job(sidecar, d))["data"]
        version = await d.deploy(HOURLY, label="Work v2")
        new = (
            await eventually(
                lambda: (
                    (j := job_of(sidecar, d)) and j["data"]["generation"] > old["generation"] and j
                )
            )
        )["data"]
        assert new["occurrence"] == old["occurrence"]  # same schedule: no gap, no shift
        assert (await fire(tapi, d, old))["outcome"] == "stale"
        assert (await fire(tapi, d, new))["outcome"] == "started"
        assert (await fire(tapi, d, new))["outcome"] == "duplicate"
        [run] = sidecar.runs_of(d.workflow)
        assert run["labels"]["version"] == str(version)
        [row] = await d.triggers()
        assert row["version"] == version and row["generation"] == new["generation"]

    async def test_a_changed_schedule_gets_a_new_next_occurrence(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        old = (await current_job(sidecar, d))["data"]
        await d.deploy({"triggerType": "schedule", "cron": "0 9 * * *", "timezone": "Asia/Tokyo"})
        new = (
            await eventually(
                lambda: (
                    (j := job_of(sidecar, d)) and j["data"]["generation"] > old["generation"] and j
                )
            )
        )["data"]
        due = datetime.fromisoformat(new["occurrence"].replace("Z", "+00:00"))
        assert (due.hour, due.minute) == (0, 0)  # 09:00 in Tokyo is midnight UTC

    async def test_stop_deletes_the_job_and_ignores_late_deliveries(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        data = (await current_job(sidecar, d))["data"]
        await d.stop()
        await eventually(lambda: job_of(sidecar, d) is None)
        assert (await fire(tapi, d, data))["outcome"] == "stale"
        [row] = await d.triggers()
        assert row["active"] is False and row["nextFireAt"] is None
        assert sidecar.runs_of(d.workflow) == []

    async def test_the_reconciler_recreates_a_lost_job(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        data = (await current_job(sidecar, d))["data"]
        with sidecar.lock:
            del sidecar.jobs[f"wfb-trigger-{d.workflow}-when"]
        healed = await current_job(sidecar, d)
        assert healed["data"] == data


class TestMissedOccurrences:
    @pytest.mark.parametrize("policy", ["skip", "run_once"])
    async def test_a_late_delivery_follows_the_missed_policy(
        self, tapi: Api, trigger_stack: TriggerStack, policy: str
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(
            tapi, {"triggerType": "schedule", "intervalSeconds": 1, "missedPolicy": policy}
        )
        data = (await current_job(sidecar, d))["data"]
        await asyncio.sleep(3.5)  # the platform was "down": beyond the 2 s grace
        result = await fire(tapi, d, data)
        [firing] = await d.firings()
        assert firing["missedCount"] >= 3
        if policy == "skip":
            assert result["outcome"] == "missed" and firing["status"] == "missed"
            assert sidecar.runs_of(d.workflow) == []
        else:
            assert result["outcome"] == "started" and firing["status"] == "started"
            [run] = sidecar.runs_of(d.workflow)
            assert run["triggerData"]["missed"] == firing["missedCount"]
        nxt = (await eventually(lambda: (j := job_of(sidecar, d)) and j["data"] != data and j))[
            "data"
        ]
        due = datetime.fromisoformat(nxt["occurrence"].replace("Z", "+00:00"))
        missed_first = datetime.fromisoformat(data["occurrence"].replace("Z", "+00:00"))
        # the first occurrence after the delivery, not the backlog of missed ones
        assert due == missed_first + timedelta(seconds=firing["missedCount"])


class TestOverlap:
    async def test_skip_while_the_previous_run_is_still_running(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, {**HOURLY, "overlapPolicy": "skip"})
        first = (await current_job(sidecar, d))["data"]
        assert (await fire(tapi, d, first))["outcome"] == "started"
        second = (await eventually(lambda: (j := job_of(sidecar, d)) and j["data"] != first and j))[
            "data"
        ]
        assert (await fire(tapi, d, second))["outcome"] == "skipped"
        sidecar.complete(sidecar.runs_of(d.workflow)[0]["instanceId"])
        third = (await eventually(lambda: (j := job_of(sidecar, d)) and j["data"] != second and j))[
            "data"
        ]
        assert (await fire(tapi, d, third))["outcome"] == "started"
        statuses = [f["status"] for f in await d.firings()]
        assert statuses == ["started", "skipped", "started"]

    async def test_queue_runs_after_the_previous_one_ends_and_is_bounded(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, {**HOURLY, "overlapPolicy": "queue"})
        outcomes = []
        seen: dict[str, Any] = {}
        for _ in range(4):
            data = await next_job(sidecar, d, seen)
            outcomes.append((await fire(tapi, d, data))["outcome"])
            seen = data
        assert outcomes == ["started", "queued", "queued", "skipped"]  # the queue holds 2
        assert len(sidecar.runs_of(d.workflow)) == 1
        sidecar.complete(sidecar.runs_of(d.workflow)[0]["instanceId"])
        await eventually(lambda: len(sidecar.runs_of(d.workflow)) == 2)
        sidecar.complete(sidecar.runs_of(d.workflow)[1]["instanceId"])
        await eventually(lambda: len(sidecar.runs_of(d.workflow)) == 3)
        firings = await d.firings()
        assert sorted(f["status"] for f in firings) == ["skipped", "started", "started", "started"]

    async def test_allow_starts_every_occurrence(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        first = (await current_job(sidecar, d))["data"]
        await fire(tapi, d, first)
        second = (await eventually(lambda: (j := job_of(sidecar, d)) and j["data"] != first and j))[
            "data"
        ]
        assert (await fire(tapi, d, second))["outcome"] == "started"
        assert len(sidecar.runs_of(d.workflow)) == 2


class TestOrchestratorDown:
    async def test_a_firing_left_pending_is_finished_by_the_reconciler(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar = trigger_stack.sidecar
        d = await deployed(tapi, HOURLY)
        data = (await current_job(sidecar, d))["data"]
        sidecar.fail_start_with = 503
        try:
            assert (await fire(tapi, d, data))["outcome"] == "pending"
        finally:
            sidecar.fail_start_with = None
        await eventually(lambda: len(sidecar.runs_of(d.workflow)) == 1)
        firing = await eventually(lambda: _first_started(d), within=15)
        assert firing["instanceId"] == sidecar.runs_of(d.workflow)[0]["instanceId"]
        assert (await fire(tapi, d, data))["outcome"] == "duplicate"
        assert len(sidecar.runs_of(d.workflow)) == 1


async def _first_started(d: Deployed) -> dict[str, Any] | None:
    firings = await d.firings()
    return firings[0] if firings and firings[0]["status"] == "started" else None
