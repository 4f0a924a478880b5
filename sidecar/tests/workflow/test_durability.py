"""Crash and restart behaviour: kill -9 of the backend and of the worker, stopped and
reconnected workers, and a clean restart on the same database."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import dapr.ext.workflow as wf
import pytest
from dapr.ext.workflow import WorkflowHistoryEventType as Ev
from dapr.ext.workflow import WorkflowStatus

from service_kit.testing import free_port

from .apps import register
from .conftest import eventually
from .harness import BackendProcess, BackendThread

pytestmark = pytest.mark.integration

WORKER_APP = Path(__file__).with_name("worker_app.py")


class WorkerProcess:
    def __init__(self, port: int, marks: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER_APP), str(port), str(marks)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("worker ready"), line

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def marks(directory: Path, kind: str, instance_id: str | None = None) -> int:
    prefix = f"{kind}." if instance_id is None else f"{kind}.{instance_id}."
    return sum(1 for p in directory.iterdir() if p.name.startswith(prefix))


def assert_each_result_seen_once(client: wf.DaprWorkflowClient, instance_id: str) -> None:
    history = client.get_workflow_history(instance_id)
    scheduled = [e.event_id for e in history if e.event_type == Ev.TASK_SCHEDULED]
    completed = [
        e.task_scheduled_id for e in history if e.event_type in (Ev.TASK_COMPLETED, Ev.TASK_FAILED)
    ]
    assert sorted(completed) == sorted(scheduled), (instance_id, scheduled, completed)
    created = [e.event_id for e in history if e.event_type == Ev.TIMER_CREATED]
    fired = [e for e in history if e.event_type == Ev.TIMER_FIRED]
    assert len(fired) <= len(created)
    assert [e.event_type for e in history].count(Ev.EXECUTION_COMPLETED) == 1


@pytest.fixture
def ports() -> int:
    return free_port()


class TestBackendKilled:
    def test_runs_waiting_on_timers_events_and_activities_survive_kill_9(
        self, tmp_path: Path, ports: int
    ) -> None:
        db, marks_dir = tmp_path / "wf.db", tmp_path / "marks"
        marks_dir.mkdir()
        backend = BackendProcess(db, ports).start()
        worker = WorkerProcess(ports, marks_dir)
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(ports))
        try:
            runs = {}
            for i in range(4):
                runs[f"timer-{i}"] = {"kind": "timer", "seconds": 2}
                runs[f"event-{i}"] = {"kind": "event"}
                runs[f"activity-{i}"] = {"kind": "activity", "seconds": 1.5}
            for iid, spec in runs.items():
                client.schedule_new_workflow("crash_flow", input=spec, instance_id=iid)
            for iid in runs:
                client.wait_for_workflow_start(iid, timeout_in_seconds=15)
            eventually(lambda: marks(marks_dir, "slow-start") == 4, timeout=15)
            # acknowledged just before the crash: must not be lost
            client.raise_workflow_event("event-0", "go", data="before crash")
            backend.kill()
            time.sleep(2.5)  # the timers fall due while the backend is down
            backend = BackendProcess(db, ports).start()
            for i in range(1, 4):
                client.raise_workflow_event(f"event-{i}", "go", data=f"after {i}")
            for iid, spec in runs.items():
                state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
                assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
                assert state.serialized_output is not None
                out = json.loads(state.serialized_output)
                assert out["after"] == 2
                if spec["kind"] == "event":
                    expected = "before crash" if iid == "event-0" else f"after {iid[-1]}"
                    assert out["result"] == expected
                assert_each_result_seen_once(client, iid)
            # activities cut off by the crash ran again: at least once, never lost
            assert marks(marks_dir, "slow-start") > 4
            for i in range(4):
                assert marks(marks_dir, "slow-done", f"activity-{i}") >= 1
        finally:
            client.close()
            worker.stop()
            backend.terminate()

    def test_repeated_kill_9_during_a_stream_of_workflows(self, tmp_path: Path, ports: int) -> None:
        db, marks_dir = tmp_path / "wf.db", tmp_path / "marks"
        marks_dir.mkdir()
        backend = BackendProcess(db, ports).start()
        worker = WorkerProcess(ports, marks_dir)
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(ports))
        rng = random.Random(7)
        ids = [f"chain-{i}" for i in range(30)]
        interrupted = 0
        try:
            for round_no in range(3):
                batch = ids[round_no * 10 : (round_no + 1) * 10]
                for iid in batch:
                    client.schedule_new_workflow("crash_chain", input=0, instance_id=iid)
                time.sleep(rng.uniform(0.05, 0.4))  # kill mid-stream, at a random moment
                backend.kill()
                backend = BackendProcess(db, ports).start()
                for iid in batch:
                    state = client.get_workflow_state(iid)
                    assert state is not None  # every accepted start survived
                    interrupted += state.runtime_status != WorkflowStatus.COMPLETED
            for iid in ids:
                state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
                assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
                assert state.serialized_output == "5"
                assert_each_result_seen_once(client, iid)
            assert interrupted > 0  # the kills really hit runs in progress
        finally:
            client.close()
            worker.stop()
            backend.terminate()


class TestWorkerKilled:
    def test_activity_of_a_killed_worker_is_redelivered(self, tmp_path: Path, ports: int) -> None:
        marks_dir = tmp_path / "marks"
        marks_dir.mkdir()
        backend = BackendThread(tmp_path / "wf.db", port=ports).start()
        worker = WorkerProcess(ports, marks_dir)
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(ports))
        try:
            client.schedule_new_workflow(
                "crash_flow", input={"kind": "activity", "seconds": 2}, instance_id="victim"
            )
            eventually(lambda: marks(marks_dir, "slow-start", "victim") == 1, timeout=15)
            worker.kill()
            assert marks(marks_dir, "slow-done", "victim") == 0
            worker = WorkerProcess(ports, marks_dir)
            state = client.wait_for_workflow_completion("victim", timeout_in_seconds=30)
            assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
            assert marks(marks_dir, "slow-start", "victim") == 2
            assert marks(marks_dir, "slow-done", "victim") == 1
            assert_each_result_seen_once(client, "victim")
        finally:
            client.close()
            worker.stop()
            backend.stop()


class TestWorkerReconnects:
    def test_work_queued_while_no_worker_is_connected_runs_on_reconnect(
        self, tmp_path: Path
    ) -> None:
        backend = BackendThread(tmp_path / "wf.db").start()
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(backend.port))
        first = wf.WorkflowRuntime(host="127.0.0.1", port=str(backend.port))
        register(first)
        first.start()
        try:
            client.schedule_new_workflow("wait_event", input="go", instance_id="w1")
            client.wait_for_workflow_start("w1", timeout_in_seconds=10)
            first.shutdown()  # the worker disconnects
            client.raise_workflow_event("w1", "go", data="while away")
            client.schedule_new_workflow("chain", input=1, instance_id="c1")
            time.sleep(0.5)
            state = client.get_workflow_state("c1")
            assert state is not None and state.runtime_status == WorkflowStatus.PENDING
            second = wf.WorkflowRuntime(host="127.0.0.1", port=str(backend.port))
            register(second)
            second.start()
            try:
                for iid, expected in (("w1", '"while away"'), ("c1", "4")):
                    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
                    assert state is not None and state.serialized_output == expected
            finally:
                second.shutdown()
        finally:
            client.close()
            backend.stop()


class TestShutdown:
    def test_long_polls_are_told_to_retry_when_the_backend_stops(self, tmp_path: Path) -> None:
        import grpc

        from wfb_sidecar.workflow.protos import pb, pb_grpc

        backend = BackendThread(tmp_path / "wf.db").start()
        channel = grpc.insecure_channel(backend.address)
        stub = pb_grpc.TaskHubSidecarServiceStub(channel)
        try:
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="w", name="wf"))
            poll = stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId="w"))
            time.sleep(0.3)
            assert not poll.done()
        finally:
            backend.stop()
        with pytest.raises(grpc.RpcError) as err:
            poll.result(timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        channel.close()


class TestCleanRestart:
    def test_state_and_due_timers_survive_a_restart(self, tmp_path: Path) -> None:
        db = tmp_path / "wf.db"
        backend = BackendThread(db).start()
        port = backend.port
        rt = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))
        register(rt)
        rt.start()
        client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
        try:
            client.schedule_new_workflow("event_or_timer", input=1, instance_id="t")
            client.schedule_new_workflow("chain", input=1, instance_id="done")
            client.wait_for_workflow_completion("done", timeout_in_seconds=10)
            client.wait_for_workflow_start("t", timeout_in_seconds=10)
            backend.stop()
            time.sleep(1.5)  # the timer is due while the backend is down
            backend = BackendThread(db, port=port).start()
            state = client.wait_for_workflow_completion("t", timeout_in_seconds=30)
            assert state is not None and state.serialized_output == '{"outcome": "timed_out"}'
            done = client.get_workflow_state("done")
            assert done is not None and done.serialized_output == "4"
        finally:
            client.close()
            rt.shutdown()
            backend.stop()
