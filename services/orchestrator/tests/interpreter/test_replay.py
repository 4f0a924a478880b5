"""Golden histories: the example workflows' recorded histories must replay unchanged.

A change to the workflow code that would make an in-flight run decide differently after
a restart (reordering activities, renaming them, changing branching) fails here, the
same way the Dapr worker would fail such a run. Regenerate the fixtures deliberately
with ``WFB_RECORD_HISTORIES=1 pytest services/orchestrator/tests/interpreter/test_replay.py``
only when a change is meant to break old histories (and bump the workflow's version).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from dapr.ext.workflow._durabletask.internal import protos as pb

from orchestrator.interpreter.simulator import Simulator, replay

pytestmark = pytest.mark.unit
HERE = Path(__file__).parent / "histories"
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"

TRIGGERS: dict[str, Any] = {
    "linear-http-chain.json": {"apiUrl": "https://api.example.com/users"},
    "diamond-fan-out.json": {"customerId": "c1", "email": "a@example.com"},
    "order-routing.json": {"orderId": "o1", "amount": 1500, "email": "a@example.com"},
    "content-approval.json": {"topic": "launch"},
    "delayed-reminder.json": {"email": "a@example.com", "deadline": "2026-01-05T00:00:00Z"},
    "order-events.json": {"orderId": "o1", "items": [1]},
    "batch-enrich.json": {
        "leads": [{"name": "a", "website": "a.com"}, {"name": "b", "website": "b.com"}]
    },
    "trip-booking-saga.json": {"tripId": "t1", "bookingApi": "https://booking.example.com"},
    "webhook-set-respond.json": {"hello": "world"},
    "ten-step-chain.json": {"payload": "p"},
    "ai-triage.json": {"subject": "bug", "body": "it breaks"},
}

DATA = {
    "body": {"users": [{"id": 1, "name": "Ada", "active": True}]},
    "result": [{"userId": 1, "fullName": "Ada"}],
    "count": 1,
    "email": "a@example.com",
    "issues": [],
    "uuid": "u-1",
    "valid": True,
    "markdown": "page",
    "category": "bug",
    "content": "draft",
    "severity": "high",
}


def execute(task: dict[str, Any]) -> dict[str, Any]:
    if task["functionSlug"] == "system/http-request" and task["input"].get("url", "").endswith(
        "/cars"
    ):
        raise RuntimeError("no cars left")
    return {"success": True, "data": DATA, "error": None, "duration_ms": 1}


def record_history(name: str) -> tuple[str, list[dict[str, Any]]]:
    sim = Simulator(
        {
            "execute_action": execute,
            "record_events": lambda _b: None,
            "finish_run": lambda _t: None,
            "publish_event": lambda _t: {
                "success": True,
                "data": {},
                "error": None,
                "duration_ms": 0,
            },
        }
    )
    definition = json.loads((EXAMPLES / name).read_text())
    instance_id = f"golden-{definition['id']}"
    run = sim.start(instance_id, {"definition": definition, "triggerData": TRIGGERS[name]})
    sim.settle(run)
    if name == "content-approval.json":
        run.raise_event("manager_approval", {"approved": True, "reason": "ok"})
    while not run.done and run.timers:
        sim.advance(run)
    assert run.done, f"{name} did not finish"
    return instance_id, run.history_json()


def fixture_path(name: str) -> Path:
    return HERE / f"{Path(name).stem}.json"


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_recorded_history_replays_deterministically(name: str) -> None:
    path = fixture_path(name)
    if os.environ.get("WFB_RECORD_HISTORIES") == "1":
        instance_id, history = record_history(name)
        path.write_text(
            json.dumps({"instanceId": instance_id, "history": history}, indent=1) + "\n"
        )
    if not path.exists():
        pytest.fail(f"no recorded history for {name}; record it with WFB_RECORD_HISTORIES=1")
    fixture = json.loads(path.read_text())
    actions = replay(fixture["history"], fixture["instanceId"])
    completions = [a for a in actions if a.HasField("completeWorkflow")]
    assert completions, "replaying a finished history must end the workflow again"
    done = completions[-1].completeWorkflow
    assert "NonDeterminism" not in done.failureDetails.errorType, done.failureDetails.errorMessage
    assert done.workflowStatus in (
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
    )


def test_a_changed_workflow_is_caught() -> None:
    """Proof the check can fail: replay a history whose definition lost an edge."""
    fixture = json.loads(fixture_path("ten-step-chain.json").read_text())
    history = copy.deepcopy(fixture["history"])
    started = next(e for e in history if "executionStarted" in e)
    workflow_input = json.loads(started["executionStarted"]["input"])
    workflow_input["definition"]["edges"] = [
        e for e in workflow_input["definition"]["edges"] if e["target"] != "step-5"
    ]
    workflow_input["definition"]["edges"].append(
        {"id": "x", "source": "trigger", "target": "step-5"}
    )
    started["executionStarted"]["input"] = json.dumps(workflow_input)
    actions = replay(history, fixture["instanceId"])
    failure = next(
        a.completeWorkflow.failureDetails for a in actions if a.HasField("completeWorkflow")
    )
    assert failure.errorType == "NonDeterminismError"
