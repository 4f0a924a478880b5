"""Many runs of every kind at once, with control calls racing their turns and a worker
leaving midway: every run must finish, and no history may record a result twice."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.ext.workflow import WorkflowHistoryEventType as Ev

from .apps import register
from .harness import BackendThread

pytestmark = pytest.mark.integration

KINDS = [
    ("chain", 1),
    ("fan_out", 8),
    ("event_or_timer", 0.5),
    ("wait_event", "go"),
    ("parent", [1, 2]),
    ("looping", 0),
    ("two_events", None),
]
CONTROLS = ["raise", "suspend", "resume", "terminate", "raise_both", "nothing"]


def test_racing_control_calls_and_a_departing_worker(tmp_path: Path) -> None:
    rng = random.Random(1)
    backend = BackendThread(tmp_path / "wf.db", turn_lease_seconds=5).start()
    runtimes = []
    for _ in range(2):
        rt = wf.WorkflowRuntime(host="127.0.0.1", port=str(backend.port))
        register(rt)
        rt.start()
        runtimes.append(rt)
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(backend.port))
    plans = [(f"race-{n}", *rng.choice(KINDS), rng.sample(CONTROLS, 3)) for n in range(150)]

    def drive(plan: tuple[str, str, object, list[str]]) -> None:
        iid, name, inp, controls = plan
        client.schedule_new_workflow(name, input=inp, instance_id=iid)
        for control in controls:
            time.sleep(rng.uniform(0, 0.03))
            with suppress(grpc.RpcError):  # e.g. suspending a run that already finished
                if control == "raise":
                    client.raise_workflow_event(iid, "go", data=1)
                elif control == "raise_both":
                    client.raise_workflow_event(iid, "first", data=1)
                    client.raise_workflow_event(iid, "second", data=2)
                elif control == "suspend":
                    client.pause_workflow(iid)
                elif control == "resume":
                    client.resume_workflow(iid)
                elif control == "terminate":
                    client.terminate_workflow(iid)
        with suppress(grpc.RpcError):
            client.resume_workflow(iid)
        for event in ("go", "approval", "first", "second"):
            client.raise_workflow_event(iid, event, data=1)

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(drive, plans))
        runtimes[0].shutdown()  # its work in flight moves to the other worker
        for iid, name, _, _ in plans:
            state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
            assert state is not None, iid
            history = client.get_workflow_history(iid)
            results = [
                e.task_scheduled_id
                for e in history
                if e.event_type in (Ev.TASK_COMPLETED, Ev.TASK_FAILED)
            ]
            assert len(results) == len(set(results)), (iid, name, history)
            assert [e.event_type for e in history].count(Ev.EXECUTION_COMPLETED) == 1
            if state.runtime_status.name == "FAILED":
                assert state.failure_details is not None
                assert "NonDeterminism" not in state.failure_details.error_type, (iid, name)
    finally:
        client.close()
        runtimes[1].shutdown()
        backend.stop()
