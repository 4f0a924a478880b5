"""Protocol details a backend must get right, checked with the SDK's own generated stub
playing a worker whose every message the test controls."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client import generate_latest

from wfb_sidecar.workflow import turns
from wfb_sidecar.workflow.protos import NEVER_US, pb, pb_grpc, timestamp_pb2, us_to_ts, wrappers_pb2

from .harness import BackendThread

pytestmark = pytest.mark.integration


class RawWorker:
    """A work-item stream read on a background thread."""

    def __init__(self, address: str, capabilities: tuple[int, ...] = ()) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.TaskHubSidecarServiceStub(self.channel)
        self.call = self.stub.GetWorkItems(pb.GetWorkItemsRequest(capabilities=capabilities))
        self.items: queue.Queue[pb.WorkItem] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for item in self.call:
                self.items.put(item)
        except grpc.RpcError:
            pass

    def next(self, timeout: float = 5.0, *, pings: bool = False) -> pb.WorkItem:
        deadline = time.monotonic() + timeout
        while True:
            item = self.items.get(timeout=max(0.01, deadline - time.monotonic()))
            if pings or not item.HasField("healthPing"):
                return item

    def nothing_for(self, seconds: float) -> bool:
        try:
            self.next(seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.call.cancel()
        self.channel.close()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendThread]:
    b = BackendThread(tmp_path / "wf.db", health_ping_seconds=0.3, turn_lease_seconds=60).start()
    yield b
    b.stop()


@pytest.fixture
def stub(backend: BackendThread) -> Iterator[pb_grpc.TaskHubSidecarServiceStub]:
    channel = grpc.insecure_channel(backend.address)
    yield pb_grpc.TaskHubSidecarServiceStub(channel)
    channel.close()


@pytest.fixture
def workers(backend: BackendThread) -> Iterator[list[RawWorker]]:
    opened: list[RawWorker] = []
    yield opened
    for w in opened:
        w.close()


def open_worker(backend: BackendThread, workers: list[RawWorker], *caps: int) -> RawWorker:
    w = RawWorker(backend.address, caps)
    workers.append(w)
    time.sleep(0.1)  # let the stream register before work is queued
    return w


def start(stub: pb_grpc.TaskHubSidecarServiceStub, iid: str, name: str = "wf") -> None:
    stub.StartInstance(pb.CreateInstanceRequest(instanceId=iid, name=name))


def schedule(action_id: int, name: str = "act") -> pb.WorkflowAction:
    return pb.WorkflowAction(id=action_id, scheduleTask=pb.ScheduleTaskAction(name=name))


def complete(
    stub: pb_grpc.TaskHubSidecarServiceStub,
    item: pb.WorkItem,
    *actions: pb.WorkflowAction,
    token: str | None = None,
) -> None:
    stub.CompleteOrchestratorTask(
        pb.WorkflowResponse(
            instanceId=item.workflowRequest.instanceId,
            actions=list(actions),
            completionToken=item.completionToken if token is None else token,
        )
    )


def history(stub: pb_grpc.TaskHubSidecarServiceStub, iid: str) -> list[pb.HistoryEvent]:
    return list(stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=iid)).events)


def kinds(events: list[pb.HistoryEvent]) -> list[str]:
    return [e.WhichOneof("eventType") or "" for e in events]


def status(stub: pb_grpc.TaskHubSidecarServiceStub, iid: str) -> int:
    res = stub.GetInstance(pb.GetInstanceRequest(instanceId=iid))
    assert res.exists
    return int(res.workflowState.workflowStatus)


class TestHealthPings:
    def test_only_workers_advertising_the_capability_get_pings(
        self, backend: BackendThread, workers: list[RawWorker]
    ) -> None:
        pinged = open_worker(backend, workers, pb.WORKER_CAPABILITY_HEALTH_PING)
        plain = open_worker(backend, workers)
        assert pinged.next(3, pings=True).HasField("healthPing")
        with pytest.raises(queue.Empty):
            plain.next(1.0, pings=True)


class TestServerSettings:
    def test_idle_streams_survive_frequent_client_pings(
        self, backend: BackendThread, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        # The SDK pings every 30 s even when idle; with gRPC's default server settings a
        # client pinging like that gets GOAWAY "too_many_pings". Ping every second here.
        channel = grpc.insecure_channel(
            backend.address,
            options=[
                ("grpc.keepalive_time_ms", 1000),
                ("grpc.keepalive_timeout_ms", 1000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.max_pings_without_data", 0),
            ],
        )
        call = pb_grpc.TaskHubSidecarServiceStub(channel).GetWorkItems(pb.GetWorkItemsRequest())
        items: queue.Queue[pb.WorkItem | grpc.RpcError] = queue.Queue()

        def read() -> None:
            try:
                for item in call:
                    items.put(item)
            except grpc.RpcError as exc:
                items.put(exc)

        threading.Thread(target=read, daemon=True).start()
        try:
            time.sleep(4)
            assert items.empty(), items.get()
            start(stub, "pinged")
            item = items.get(timeout=5)
            assert isinstance(item, pb.WorkItem)
            assert item.workflowRequest.instanceId == "pinged"
        finally:
            call.cancel()
            channel.close()


class TestTurns:
    def test_new_events_start_with_the_turn_time(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        before = time.time()
        start(stub, "t1")
        item = w.next()
        req = item.workflowRequest
        assert req.instanceId == "t1"
        assert kinds(list(req.newEvents)) == ["workflowStarted", "executionStarted"]
        assert req.newEvents[0].timestamp.seconds >= int(before)
        assert not req.pastEvents
        assert req.newEvents[1].executionStarted.workflowInstance.executionId.value
        assert (
            req.executionId.value
            == req.newEvents[1].executionStarted.workflowInstance.executionId.value
        )

    def test_version_from_the_response_is_saved_in_the_turn(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "v1")
        item = w.next()
        stub.CompleteOrchestratorTask(
            pb.WorkflowResponse(
                instanceId="v1",
                actions=[schedule(1)],
                completionToken=item.completionToken,
                version=pb.WorkflowVersion(name="2", patches=["p1", "p2"]),
            )
        )
        started = history(stub, "v1")[0]
        assert started.HasField("workflowStarted")
        assert started.workflowStarted.version.name == "2"
        assert list(started.workflowStarted.version.patches) == ["p1", "p2"]

    def test_action_ids_become_event_ids(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "ids")
        item = w.next()
        timer = pb.WorkflowAction(
            id=2, createTimer=pb.CreateTimerAction(fireAt=us_to_ts(NEVER_US + 999_999))
        )
        complete(stub, item, schedule(1), timer)
        events = history(stub, "ids")
        assert [(k, e.eventId) for k, e in zip(kinds(events), events, strict=True)] == [
            ("workflowStarted", -1),
            ("executionStarted", -1),
            ("taskScheduled", 1),
            ("timerCreated", 2),
        ]
        activity = w.next()
        assert activity.activityRequest.taskId == 1
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="ids",
                taskId=1,
                result=wrappers_pb2.StringValue(value="7"),
                completionToken=activity.completionToken,
            )
        )
        turn = w.next()
        done = [e for e in turn.workflowRequest.newEvents if e.HasField("taskCompleted")]
        assert len(done) == 1 and done[0].eventId == -1
        assert done[0].taskCompleted.taskScheduledId == 1

    def test_indefinite_timer_is_never_scheduled(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "forever")
        item = w.next()
        fire_at = timestamp_pb2.Timestamp(seconds=253402300799, nanos=999999999)  # the SDK's
        complete(
            stub,
            item,
            pb.WorkflowAction(
                id=1,
                createTimer=pb.CreateTimerAction(
                    fireAt=fire_at,
                    externalEvent=pb.TimerOriginExternalEvent(name="approval"),
                ),
            ),
        )
        metrics = generate_latest(backend.registry).decode()
        assert "wfb_sidecar_workflow_pending_timers 0.0" in metrics
        assert kinds(history(stub, "forever"))[-1] == "timerCreated"
        assert w.nothing_for(0.5)

    def test_one_turn_in_flight_per_instance(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "solo")
        first = w.next()
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="solo", name="e1"))
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="solo", name="e2"))
        assert w.nothing_for(0.5)  # the events wait for the turn in flight
        complete(stub, first)
        second = w.next()
        assert kinds(list(second.workflowRequest.newEvents)) == [
            "workflowStarted",
            "eventRaised",
            "eventRaised",
        ]
        assert [e.eventRaised.name for e in second.workflowRequest.newEvents[1:]] == ["e1", "e2"]
        assert len(second.workflowRequest.pastEvents) == 2

    def test_complete_workflow_task_is_an_alias(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "alias")
        item = w.next()
        stub.CompleteWorkflowTask(
            pb.WorkflowResponse(
                instanceId="alias", actions=[schedule(1)], completionToken=item.completionToken
            )
        )
        assert kinds(history(stub, "alias"))[-1] == "taskScheduled"

    def test_stale_and_duplicate_completions_are_dropped(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "dup")
        item = w.next()
        complete(stub, item, schedule(1), token="not-a-token")  # OK, ignored
        assert status(stub, "dup") == pb.ORCHESTRATION_STATUS_PENDING
        complete(stub, item, schedule(1))
        complete(stub, item, schedule(1), schedule(2))  # duplicate: OK, ignored
        assert kinds(history(stub, "dup")).count("taskScheduled") == 1
        assert status(stub, "dup") == pb.ORCHESTRATION_STATUS_RUNNING
        activity = w.next()
        response = pb.ActivityResponse(
            instanceId="dup", taskId=1, completionToken=activity.completionToken
        )
        stub.CompleteActivityTask(response)
        stub.CompleteActivityTask(response)
        turn = w.next()
        assert kinds(list(turn.workflowRequest.newEvents)).count("taskCompleted") == 1
        assert w.nothing_for(0.3)


class TestSuspension:
    def test_a_suspension_starts_its_own_turn(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        # Work caused by events before a suspension in the same turn would be recorded
        # after it, where the SDK's replay buffers it and schedules it a second time.
        w = open_worker(backend, workers)
        start(stub, "sus")
        complete(stub, w.next(), schedule(1))
        activity = w.next()
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="sus", name="busy"))
        busy = w.next()  # the instance is now in flight...
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="sus", taskId=1, completionToken=activity.completionToken
            )
        )
        stub.SuspendInstance(pb.SuspendRequest(instanceId="sus"))
        complete(stub, busy)  # ...so the result and the suspension queue up together
        result_turn = w.next()
        assert kinds(list(result_turn.workflowRequest.newEvents)) == [
            "workflowStarted",
            "taskCompleted",
        ]
        complete(stub, result_turn, schedule(2))
        suspended_turn = w.next(pings=False)
        while suspended_turn.HasField("activityRequest"):
            suspended_turn = w.next()
        assert kinds(list(suspended_turn.workflowRequest.newEvents)) == [
            "workflowStarted",
            "executionSuspended",
        ]
        complete(stub, suspended_turn)
        events = kinds(history(stub, "sus"))
        assert events.index("executionSuspended") > events.index("taskScheduled", 3)


class TestContinueAsNew:
    def test_late_results_of_the_old_execution_are_dropped(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "can")
        complete(stub, w.next(), schedule(1))
        activity = w.next()
        assert activity.HasField("activityRequest")
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="can", name="restart"))
        restart = pb.WorkflowAction(
            id=2,
            completeWorkflow=pb.CompleteWorkflowAction(
                workflowStatus=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
                result=wrappers_pb2.StringValue(value='"again"'),
                carryoverEvents=[
                    pb.HistoryEvent(eventId=-1, eventRaised=pb.EventRaisedEvent(name="kept"))
                ],
            ),
        )
        second = w.next()
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="can", name="during"))
        complete(stub, second, restart)
        fresh_item = w.next()
        fresh = fresh_item.workflowRequest
        assert not fresh.pastEvents
        assert kinds(list(fresh.newEvents)) == [
            "workflowStarted",
            "executionStarted",
            "eventRaised",
            "eventRaised",
        ]
        assert [e.eventRaised.name for e in fresh.newEvents[2:]] == ["kept", "during"]
        assert fresh.newEvents[1].executionStarted.input.value == '"again"'
        complete(stub, fresh_item)  # the new execution waits
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="can", taskId=1, completionToken=activity.completionToken
            )
        )
        assert w.nothing_for(0.5)  # the old execution's result reaches nobody
        assert "taskCompleted" not in kinds(history(stub, "can"))


class TestPoisonResults:
    def test_a_result_that_cannot_be_committed_fails_the_run_after_retries(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("the disk is on fire")

        monkeypatch.setattr(turns, "complete_turn", broken)
        w = open_worker(backend, workers)
        start(stub, "poison")
        for _ in range(3):  # dispatched again after each failed commit, then given up
            complete(stub, w.next(), schedule(1))
        res = stub.GetInstance(pb.GetInstanceRequest(instanceId="poison"))
        assert res.workflowState.workflowStatus == pb.ORCHESTRATION_STATUS_FAILED
        assert "the disk is on fire" in res.workflowState.failureDetails.errorMessage
        assert w.nothing_for(0.5)


class TestChildren:
    def test_child_start_carries_its_parent_and_results_flow_back(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "mom")
        first = w.next()
        child = pb.WorkflowAction(
            id=1, createChildWorkflow=pb.CreateChildWorkflowAction(name="kid_wf", instanceId="kid")
        )
        other = pb.WorkflowAction(
            id=2, createChildWorkflow=pb.CreateChildWorkflowAction(name="kid_wf", instanceId="kid2")
        )
        complete(stub, first, child, other)
        turns = {}
        for _ in range(2):
            item = w.next()
            turns[item.workflowRequest.instanceId] = item
        started = turns["kid"].workflowRequest.newEvents[1].executionStarted
        assert started.parentInstance.taskScheduledId == 1
        assert started.parentInstance.workflowInstance.instanceId == "mom"
        assert started.parentInstance.appID == "test-app"
        done = pb.WorkflowAction(
            id=5,
            completeWorkflow=pb.CompleteWorkflowAction(
                workflowStatus=pb.ORCHESTRATION_STATUS_COMPLETED,
                result=wrappers_pb2.StringValue(value='"hi"'),
            ),
        )
        complete(stub, turns["kid"], done)
        back = w.next()
        assert back.workflowRequest.instanceId == "mom"
        result = back.workflowRequest.newEvents[1].childWorkflowInstanceCompleted
        assert result.taskScheduledId == 1 and result.result.value == '"hi"'
        complete(stub, back)
        complete(stub, turns["kid2"])  # the second child waits for something
        stub.TerminateInstance(pb.TerminateRequest(instanceId="kid2"))
        terminate_turn = w.next()
        assert terminate_turn.workflowRequest.instanceId == "kid2"
        assert terminate_turn.workflowRequest.newEvents[1].HasField("executionTerminated")
        killed = pb.WorkflowAction(
            id=9,
            completeWorkflow=pb.CompleteWorkflowAction(
                workflowStatus=pb.ORCHESTRATION_STATUS_TERMINATED
            ),
        )
        complete(stub, terminate_turn, killed)
        failed = w.next().workflowRequest.newEvents[1].childWorkflowInstanceFailed
        assert failed.taskScheduledId == 2
        assert failed.failureDetails.errorType == "WorkflowTerminated"
        assert "kid2" in failed.failureDetails.errorMessage


class TestFlowControl:
    def test_a_stream_gets_at_most_its_share_of_turns(self, tmp_path: Path) -> None:
        b = BackendThread(tmp_path / "cap.db", max_turns_per_stream=2).start()
        channel = grpc.insecure_channel(b.address)
        s = pb_grpc.TaskHubSidecarServiceStub(channel)
        w = RawWorker(b.address)
        try:
            time.sleep(0.1)
            for n in range(5):
                start(s, f"cap{n}")
            first, second = w.next(), w.next()
            assert w.nothing_for(0.5)  # the other three wait in the backend
            complete(s, first)
            third = w.next()
            assert third.workflowRequest.instanceId not in {
                first.workflowRequest.instanceId,
                second.workflowRequest.instanceId,
            }
            assert w.nothing_for(0.3)
        finally:
            w.close()
            channel.close()
            b.stop()


class TestRedelivery:
    def test_closed_stream_work_is_dispatched_again(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        first = open_worker(backend, workers)
        start(stub, "moved")
        turn = first.next()
        first.close()
        second = open_worker(backend, workers)
        again = second.next()
        assert again.workflowRequest.instanceId == "moved"
        assert again.completionToken != turn.completionToken
        complete(stub, turn, schedule(1))  # the old token: dropped
        assert kinds(history(stub, "moved")) == []
        complete(stub, again, schedule(1))
        activity = second.next()
        second.close()
        third = open_worker(backend, workers)
        redelivered = third.next()
        assert redelivered.activityRequest.taskId == activity.activityRequest.taskId
        assert redelivered.completionToken != activity.completionToken

    def test_turn_without_a_result_is_dispatched_again_after_its_lease(
        self, tmp_path: Path
    ) -> None:
        b = BackendThread(tmp_path / "lease.db", turn_lease_seconds=0.6).start()
        channel = grpc.insecure_channel(b.address)
        s = pb_grpc.TaskHubSidecarServiceStub(channel)
        w = RawWorker(b.address)
        try:
            time.sleep(0.1)
            start(s, "slow")
            first = w.next()
            second = w.next(timeout=5)
            assert second.workflowRequest.instanceId == "slow"
            assert second.completionToken != first.completionToken
            complete(s, first, schedule(1))  # too late: dropped
            assert kinds(history(s, "slow")) == []
        finally:
            w.close()
            channel.close()
            b.stop()

    def test_stateful_worker_gets_only_the_new_history(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers, pb.WORKER_CAPABILITY_STATEFUL_HISTORY)
        start(stub, "delta")
        first = w.next()
        assert not first.workflowRequest.HasField("cachedHistory")
        complete(stub, first, schedule(1))
        activity = w.next()
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="delta", taskId=1, completionToken=activity.completionToken
            )
        )
        second = w.next()
        # this turn's committed past is the first turn: 3 events, none cached yet
        assert len(second.workflowRequest.pastEvents) == 3
        complete(stub, second, schedule(2))
        activity = w.next()
        stub.CompleteActivityTask(
            pb.ActivityResponse(
                instanceId="delta", taskId=2, completionToken=activity.completionToken
            )
        )
        third = w.next()
        req = third.workflowRequest
        assert req.cachedHistory.eventCount == 3
        assert kinds(list(req.pastEvents)) == ["workflowStarted", "taskCompleted", "taskScheduled"]


class TestControl:
    def test_page_size_zero_is_rejected(self, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        with pytest.raises(grpc.RpcError) as err:
            stub.ListInstanceIDs(pb.ListInstanceIDsRequest(pageSize=0))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_start_requires_a_name(self, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        with pytest.raises(grpc.RpcError) as err:
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="nameless"))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "name" in (err.value.details() or "")

    def test_instance_ids_are_validated(self, stub: pb_grpc.TaskHubSidecarServiceStub) -> None:
        for bad in ("x" * 2000, "tab\there"):
            with pytest.raises(grpc.RpcError) as err:
                stub.StartInstance(pb.CreateInstanceRequest(instanceId=bad, name="wf"))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_control_calls_do_not_wait_for_a_worker(
        self, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        started = time.monotonic()
        start(stub, "no-worker")
        stub.RaiseEvent(pb.RaiseEventRequest(instanceId="no-worker", name="x"))
        stub.SuspendInstance(pb.SuspendRequest(instanceId="no-worker"))
        assert status(stub, "no-worker") == pb.ORCHESTRATION_STATUS_SUSPENDED
        stub.ResumeInstance(pb.ResumeRequest(instanceId="no-worker"))
        stub.TerminateInstance(pb.TerminateRequest(instanceId="no-worker"))
        assert time.monotonic() - started < 2
        assert status(stub, "no-worker") == pb.ORCHESTRATION_STATUS_TERMINATED

    def test_purge_by_filter_removes_only_finished_runs_unless_forced(
        self, stub: pb_grpc.TaskHubSidecarServiceStub
    ) -> None:
        for iid in ("f1", "f2", "f3"):
            start(stub, iid)
        for iid in ("f1", "f2"):
            stub.TerminateInstance(pb.TerminateRequest(instanceId=iid))
        everything = pb.PurgeInstanceFilter(createdTimeFrom=us_to_ts(0))
        res = stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=everything))
        assert res.deletedInstanceCount == 2 and res.isComplete.value
        assert status(stub, "f3") == pb.ORCHESTRATION_STATUS_PENDING
        pending_only = pb.PurgeInstanceFilter(runtimeStatus=[pb.ORCHESTRATION_STATUS_PENDING])
        res = stub.PurgeInstances(pb.PurgeInstancesRequest(purgeInstanceFilter=pending_only))
        assert res.deletedInstanceCount == 0
        res = stub.PurgeInstances(
            pb.PurgeInstancesRequest(purgeInstanceFilter=pending_only, force=True)
        )
        assert res.deletedInstanceCount == 1
        assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="f3")).exists

    def test_metrics_count_work(
        self,
        backend: BackendThread,
        stub: pb_grpc.TaskHubSidecarServiceStub,
        workers: list[RawWorker],
    ) -> None:
        w = open_worker(backend, workers)
        start(stub, "m")
        complete(stub, w.next(), schedule(1))
        assert w.next().HasField("activityRequest")
        text = generate_latest(backend.registry).decode()
        assert (
            'wfb_sidecar_workflow_work_items_dispatched_total{app_id="test-app",kind="orchestration"} 1.0'
            in text
        )
        assert (
            'wfb_sidecar_workflow_work_items_completed_total{app_id="test-app",kind="orchestration"} 1.0'
            in text
        )
        assert (
            'wfb_sidecar_workflow_work_items_dispatched_total{app_id="test-app",kind="activity"} 1.0'
            in text
        )
        assert 'wfb_sidecar_workflow_in_flight{app_id="test-app",kind="activity"} 1.0' in text
        assert "wfb_sidecar_workflow_turn_latency_seconds_count" in text
        assert 'wfb_sidecar_workflow_worker_streams{app_id="test-app"} 1.0' in text
