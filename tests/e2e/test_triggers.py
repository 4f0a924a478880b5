"""Triggers across the services under `wfb dev` (the local sidecar's Jobs API and
streaming subscriptions, admin-api, the orchestrator, function-runner): schedules firing
on time and never twice across a platform restart, missed occurrences per policy, event
triggers with and without a filter match and dead letters, stop deactivating every kind,
and a new version swapping triggers without a gap or a double start."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from .stack import Stack
from .stack import sign_up as register

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 4
GRACE = 3
ADMIN_ENV = {
    "ADMIN_API_TRIGGER_MISSED_GRACE_S": str(GRACE),
    "ADMIN_API_TRIGGER_RECONCILE_INTERVAL_S": "1",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("triggers"), app_env={"admin-api": ADMIN_ENV})
    running.start()
    yield running
    running.stop()


@dataclass
class Owner:
    stack: Stack
    token: str
    project: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.stack.url('admin-api')}{path}", headers=self.auth, timeout=30, **kw
        )


@dataclass
class Flow:
    owner: Owner
    id: str

    def deploy(self, definition: dict[str, Any] | None = None) -> int:
        if definition is not None:
            saved = self.owner.admin(
                "PUT", f"/api/v1/workflows/{self.id}/definition", json={"definition": definition}
            )
            assert saved.status_code in (200, 201), saved.text
        r = self.owner.admin("POST", f"/api/v1/workflows/{self.id}/deploy", json={})
        assert r.status_code == 200, r.text
        return int(r.json()["activeVersion"])

    def stop(self) -> None:
        r = self.owner.admin("POST", f"/api/v1/workflows/{self.id}/stop")
        assert r.status_code == 200, r.text

    def firings(self) -> list[dict[str, Any]]:
        r = self.owner.admin("GET", f"/api/v1/workflows/{self.id}/triggers/firings?limit=200")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items[::-1]  # oldest first

    def triggers(self) -> list[dict[str, Any]]:
        r = self.owner.admin("GET", f"/api/v1/workflows/{self.id}/triggers")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    def runs(self) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.owner.stack.url('workflow-orchestrator')}/api/v2/workflows",
            params=[
                ("label", f"projectId:{self.owner.project}"),
                ("label", f"workflowId:{self.id}"),
                ("limit", "200"),
            ],
            headers=self.owner.auth,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def sign_up(stack: Stack, name: str) -> Owner:
    token, project = register(stack.url("admin-api"), name)
    return Owner(stack, token, project)


def definition(trigger: dict[str, Any], marker: str = "v1") -> dict[str, Any]:
    return {
        "id": "triggered",
        "name": "triggered",
        "nodes": [
            {"id": "when", "type": "trigger", "label": "When", "config": trigger},
            {
                "id": "mark",
                "type": "action",
                "label": "Mark",
                "config": {"actionId": "system/set", "values": {"marker": marker}},
            },
        ],
        "edges": [{"id": "e", "source": "when", "target": "mark"}],
    }


def create(owner: Owner, trigger: dict[str, Any], marker: str = "v1") -> Flow:
    r = owner.admin(
        "POST",
        f"/api/v1/projects/{owner.project}/workflows",
        json={"name": f"t-{uuid.uuid4().hex[:8]}", "definition": definition(trigger, marker)},
    )
    assert r.status_code == 201, r.text
    flow = Flow(owner, r.json()["id"])
    flow.deploy()
    return flow


def wait_for(check: Callable[[], Any], within: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {within} s: {what}")
        time.sleep(0.3)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def started(flow: Flow) -> list[dict[str, Any]]:
    return [f for f in flow.firings() if f["status"] == "started"]


def publish(stack: Stack, topic: str, body: bytes, content_type: str = "application/json") -> None:
    r = httpx.post(
        f"{stack.sidecar()}/v1.0/publish/pubsub/{topic}",
        content=body,
        headers={"content-type": content_type},
        timeout=30,
    )
    assert r.status_code == 204, r.text


def schedule(**extra: Any) -> dict[str, Any]:
    return {"triggerType": "schedule", "intervalSeconds": INTERVAL, **extra}


def assert_one_run_per_started_firing(flow: Flow) -> None:
    firings = started(flow)
    runs = flow.runs()
    assert sorted(r["instanceId"] for r in runs) == sorted(f["instanceId"] for f in firings)
    occurrences = [f["scheduledFor"] for f in flow.firings() if f["scheduledFor"]]
    assert len(occurrences) == len(set(occurrences))  # no occurrence recorded twice


def test_event_trigger_with_and_without_a_match_and_dead_letters(stack: Stack) -> None:
    owner = sign_up(stack, "evt")
    topic = f"orders-{uuid.uuid4().hex[:6]}"
    filtered = create(
        owner, {"triggerType": "event", "topic": topic, "filter": "event.data.total > 10"}
    )
    dead = create(
        owner,
        {"triggerType": "event", "topic": f"{topic}.deadletter"},
        marker="{{trigger.data.reason}}",
    )
    publish(stack, topic, json.dumps({"total": 20, "sku": "a"}).encode())
    first = wait_for(lambda: started(filtered), what="a run for the matching event")
    publish(stack, topic, json.dumps({"total": 5}).encode())
    publish(stack, topic, b"this is not json", content_type="text/plain")
    [letter] = wait_for(lambda: started(dead), what="the malformed event dead-lettered")
    assert len(started(filtered)) == 1  # total 5 did not match; the text was refused
    assert {r["instanceId"] for r in filtered.runs()} == {first[0]["instanceId"]}
    done = wait_status(stack, owner, first[0]["instanceId"])
    assert done["labels"]["trigger"] == "event"
    dead_run = wait_status(stack, owner, letter["instanceId"])
    assert "not JSON" in json.dumps(dead_run["outputs"])  # the reason reached the dead letter


def wait_status(stack: Stack, owner: Owner, instance: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status: dict[str, Any] = httpx.get(
            f"{stack.url('workflow-orchestrator')}/api/v2/workflows/{instance}/status",
            headers=owner.auth,
            timeout=30,
        ).json()
        return status if status.get("runtimeStatus") == "COMPLETED" else None

    found: dict[str, Any] = wait_for(finished, what=f"run {instance} completes")
    return found


def test_stop_deactivates_every_kind(stack: Stack) -> None:
    owner = sign_up(stack, "stop")
    topic = f"stop-{uuid.uuid4().hex[:6]}"
    timed = create(owner, schedule())
    evented = create(owner, {"triggerType": "event", "topic": topic})
    hooked = create(owner, {"triggerType": "webhook", "webhook": {"auth": "none"}})
    hook_url = f"{stack.url('admin-api')}/api/v1/internal/webhooks/{hooked.id}"
    caller = {"dapr-caller-app-id": "builder-bff"}
    assert httpx.post(hook_url, json={}, headers=caller, timeout=30).status_code == 202
    wait_for(lambda: started(timed), within=INTERVAL * 5, what="the schedule fires")
    for flow in (timed, evented, hooked):
        flow.stop()
        assert all(not t["active"] for t in flow.triggers())
    settled = len(timed.firings())
    job = f"{stack.sidecar()}/v1.0-alpha1/jobs/wfb-trigger-{timed.id}-when"
    wait_for(lambda: httpx.get(job, timeout=10).status_code >= 400, what="the job deleted")
    publish(stack, topic, b'{"after": "stop"}')
    assert httpx.post(hook_url, json={}, headers=caller, timeout=30).status_code == 404
    time.sleep(INTERVAL * 2 + 1)  # two would-be occurrences and the event's delivery
    assert len(timed.firings()) == settled
    assert evented.firings() == []
    assert_one_run_per_started_firing(timed)


def test_new_version_swaps_without_gap_or_double_start(stack: Stack) -> None:
    owner = sign_up(stack, "swap")
    flow = create(owner, schedule(), marker="v1")
    wait_for(lambda: len(started(flow)) >= 1, within=INTERVAL * 5, what="v1 fires")
    version = flow.deploy(definition(schedule(), marker="v2"))
    wait_for(
        lambda: any(f["version"] == version for f in started(flow)),
        within=INTERVAL * 5,
        what="v2 fires",
    )
    firings = flow.firings()
    assert all(f["status"] == "started" for f in firings), firings
    occurrences = [moment(f["scheduledFor"]) for f in firings]
    gaps = {(b - a).total_seconds() for a, b in pairwise(occurrences)}
    assert gaps == {INTERVAL}  # every occurrence once, none skipped across the swap
    versions = [f["version"] for f in firings]
    assert versions == sorted(versions) and versions[-1] == version
    assert_one_run_per_started_firing(flow)
    flow.stop()


def test_schedules_across_a_restart_fire_once_and_follow_the_missed_policy(
    stack: Stack,
) -> None:
    owner = sign_up(stack, "sched")
    skip = create(owner, schedule(missedPolicy="skip"))
    once = create(owner, schedule(missedPolicy="run_once"))
    for flow in (skip, once):
        wait_for(lambda flow=flow: started(flow), within=INTERVAL * 5, what="first firing")
    for flow in (skip, once):
        for firing in started(flow):  # on time: not early, not late enough to be missed
            assert moment(firing["firedAt"]) >= moment(firing["scheduledFor"])
    before = {flow.id: len(flow.firings()) for flow in (skip, once)}
    stack.stop()
    time.sleep(INTERVAL * 2 + GRACE)  # occurrences fall due while the platform is down
    stack.start()
    for flow in (skip, once):
        wait_for(
            lambda flow=flow: any(f["missedCount"] for f in flow.firings()),
            within=60,
            what="the missed occurrences handled",
        )
    [skipped] = [f for f in skip.firings() if f["missedCount"]]
    assert skipped["status"] == "missed" and skipped["instanceId"] is None
    assert skipped["missedCount"] >= 2
    [caught_up] = [f for f in once.firings() if f["missedCount"]]
    assert caught_up["status"] == "started" and caught_up["instanceId"]
    for flow in (skip, once):  # then the chain goes on, on time again
        wait_for(
            lambda flow=flow: len(flow.firings()) >= before[flow.id] + 2,
            within=INTERVAL * 5,
            what="firing after the restart",
        )
        later = flow.firings()[-1]
        assert later["status"] == "started" and later["missedCount"] == 0
        assert_one_run_per_started_firing(flow)
        flow.stop()
