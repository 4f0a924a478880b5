"""Conformance of the workflow backend, driven only through the official Dapr SDK
(``WorkflowRuntime`` as the worker, ``DaprWorkflowClient`` as the client)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dapr.ext.workflow as wf
import grpc
import pytest
from dapr.ext.workflow import WorkflowHistoryEventType as Ev
from dapr.ext.workflow import WorkflowStatus

from .apps import recorder
from .conftest import eventually

pytestmark = pytest.mark.integration

Client = wf.DaprWorkflowClient
NewId = Callable[[], str]


def run(
    client: Client, name: str, inp: object, instance_id: str, timeout: int = 20
) -> wf.WorkflowState:
    client.schedule_new_workflow(name, input=inp, instance_id=instance_id)
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout)
    assert state is not None
    return state


def output(state: wf.WorkflowState) -> object:
    assert state.serialized_output is not None
    return json.loads(state.serialized_output)


def event_types(client: Client, instance_id: str) -> list[Ev]:
    return [e.event_type for e in client.get_workflow_history(instance_id)]


def assert_no_duplicate_results(client: Client, instance_id: str) -> None:
    """Each scheduled activity, timer and child reported back at most once."""
    seen: set[tuple[str, int]] = set()
    for e in client.get_workflow_history(instance_id):
        if e.event_type in (
            Ev.TASK_COMPLETED,
            Ev.TASK_FAILED,
            Ev.CHILD_WORKFLOW_INSTANCE_COMPLETED,
            Ev.CHILD_WORKFLOW_INSTANCE_FAILED,
        ):
            key = (e.event_type.value, e.task_scheduled_id or 0)
            assert key not in seen, f"duplicate {key} in {instance_id}"
            seen.add(key)


class TestActivityChains:
    def test_chain_of_activities_runs_in_order(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        state = run(client, "chain", 1, iid)
        assert state.runtime_status == WorkflowStatus.COMPLETED
        assert output(state) == 4
        assert recorder.inputs[f"add_one:{iid}"] == [1, 2, 3]

    def test_history_records_every_turn(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "chain", 1, iid)
        history = client.get_workflow_history(iid)
        types = [e.event_type for e in history]
        assert types[:2] == [Ev.WORKFLOW_STARTED, Ev.EXECUTION_STARTED]
        assert types.count(Ev.WORKFLOW_STARTED) == 4  # one per turn
        assert types.count(Ev.TASK_SCHEDULED) == 3
        assert types[-1] == Ev.EXECUTION_COMPLETED
        assert Ev.WORKFLOW_COMPLETED not in types
        scheduled = [e.event_id for e in history if e.event_type == Ev.TASK_SCHEDULED]
        completed = [e.task_scheduled_id for e in history if e.event_type == Ev.TASK_COMPLETED]
        assert scheduled == completed
        assert all(e.event_id == -1 for e in history if e.event_type == Ev.TASK_COMPLETED)
        assert_no_duplicate_results(client, iid)

    def test_state_reports_times_and_payloads(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        state = run(client, "chain", 5, iid)
        assert state.instance_id == iid
        assert state.name == "chain"
        assert state.serialized_input == "5"
        assert state.created_at >= before
        assert state.last_updated_at >= state.created_at
        light = client.get_workflow_state(iid, fetch_payloads=False)
        assert light is not None
        assert light.serialized_input is None and light.serialized_output is None


class TestFanOut:
    def test_when_all_gathers_every_result(self, client: Client, new_id: NewId) -> None:
        state = run(client, "fan_out", 20, new_id())
        assert state.runtime_status == WorkflowStatus.COMPLETED
        assert output(state) == sum(i * i for i in range(20))


class TestExternalEvents:
    def test_event_beats_timer(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("event_or_timer", input=30, instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        client.raise_workflow_event(iid, "approval", data={"by": "ann"})
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None
        assert output(state) == {"outcome": "approved", "data": {"by": "ann"}}

    def test_timer_beats_missing_event(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        started = time.monotonic()
        state = run(client, "event_or_timer", 0.5, iid)
        assert output(state) == {"outcome": "timed_out"}
        assert time.monotonic() - started >= 0.5
        assert Ev.TIMER_FIRED in event_types(client, iid)

    def test_wait_with_timeout_gets_event_in_time(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("event_with_timeout", input=30, instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        client.raise_workflow_event(iid, "go", data=[1, 2])
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == {"got": [1, 2]}

    def test_wait_with_timeout_times_out(self, client: Client, new_id: NewId) -> None:
        state = run(client, "event_with_timeout", 0.3, new_id())
        assert output(state) == "timeout"

    def test_event_raised_before_the_wait_is_buffered(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("two_events", instance_id=iid)
        client.raise_workflow_event(iid, "second", data="b")
        client.raise_workflow_event(iid, "first", data="a")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == ["a", "b"]

    def test_indefinite_wait_is_recorded_never_scheduled(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="ping", instance_id=iid)
        eventually(lambda: Ev.TIMER_CREATED in event_types(client, iid))
        created = [e for e in client.get_workflow_history(iid) if e.event_type == Ev.TIMER_CREATED]
        assert len(created) == 1
        client.raise_workflow_event(iid, "ping", data="pong")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == "pong"
        assert Ev.TIMER_FIRED not in event_types(client, iid)

    def test_events_for_unknown_or_finished_instances_are_dropped(
        self, client: Client, new_id: NewId
    ) -> None:
        client.raise_workflow_event(new_id(), "anything", data=1)
        iid = new_id()
        run(client, "chain", 1, iid)
        client.raise_workflow_event(iid, "late", data=1)
        assert Ev.EVENT_RAISED not in event_types(client, iid)

    def test_event_names_are_case_insensitive(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="Approve", instance_id=iid)
        client.raise_workflow_event(iid, "APPROVE", data="yes")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == "yes"


class TestRetriesAndFailures:
    def test_retry_policy_retries_until_success(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        spec = {"key": iid, "failures": 2, "attempts": 5}
        state = run(client, "retrying", spec, iid)
        assert state.runtime_status == WorkflowStatus.COMPLETED
        assert output(state) == "succeeded on attempt 3"
        assert recorder.count(f"flaky:{iid}") == 3
        types = event_types(client, iid)
        assert types.count(Ev.TASK_FAILED) == 2
        assert types.count(Ev.TIMER_FIRED) == 2  # the SDK waits with durable timers

    def test_exhausted_retries_fail_the_run_with_details(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        state = run(client, "retrying", {"key": iid, "failures": 10, "attempts": 2}, iid)
        assert state.runtime_status == WorkflowStatus.FAILED
        assert recorder.count(f"flaky:{iid}") == 2
        assert state.failure_details is not None
        assert "attempt 2 failed" in state.failure_details.message

    def test_unhandled_activity_error_fails_the_run(self, client: Client, new_id: NewId) -> None:
        state = run(client, "failing", "the disk is full", new_id())
        assert state.runtime_status == WorkflowStatus.FAILED
        details = state.failure_details
        assert details is not None
        assert details.error_type == "TaskFailedError"
        assert "the disk is full" in details.message
        assert state.serialized_output is None

    def test_caught_activity_error_carries_its_type(self, client: Client, new_id: NewId) -> None:
        state = run(client, "catching", "nope", new_id())
        assert state.runtime_status == WorkflowStatus.COMPLETED
        result = output(state)
        assert isinstance(result, dict)
        assert result["type"] == "ValueError"
        assert "nope" in result["caught"]

    def test_unknown_workflow_fails_with_details(self, client: Client, new_id: NewId) -> None:
        state = run(client, "no_such_workflow", None, new_id())
        assert state.runtime_status == WorkflowStatus.FAILED
        assert state.failure_details is not None
        assert "no_such_workflow" in state.failure_details.message


class TestChildWorkflows:
    def test_children_run_and_report_back(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        state = run(client, "parent", [1, 2], iid)
        assert output(state) == [20, 30]
        child = client.get_workflow_state(f"{iid}-child-0")
        assert child is not None and child.runtime_status == WorkflowStatus.COMPLETED
        assert output(child) == 20
        assert_no_duplicate_results(client, iid)

    def test_failed_child_fails_its_task_in_the_parent(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        state = run(client, "parent", [-5, 1], iid)
        assert output(state) == ["failed: ValueError", 20]
        child = client.get_workflow_state(f"{iid}-child-0")
        assert child is not None and child.runtime_status == WorkflowStatus.FAILED

    def test_terminated_child_fails_its_task_in_the_parent(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        client.schedule_new_workflow("parent_of_waiting", instance_id=iid)
        eventually(lambda: client.get_workflow_state(f"{iid}-child"))
        client.wait_for_workflow_start(f"{iid}-child", timeout_in_seconds=10)
        client.terminate_workflow(f"{iid}-child")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.FAILED
        assert state.failure_details is not None
        assert "was terminated" in state.failure_details.message


class TestContinueAsNew:
    def test_loop_restarts_with_new_input_and_fresh_history(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        state = run(client, "looping", 0, iid)
        assert output(state) == 5
        types = event_types(client, iid)
        assert types.count(Ev.EXECUTION_STARTED) == 1
        assert types.count(Ev.TASK_SCHEDULED) == 1
        assert state.serialized_input == "4"

    def test_events_survive_continue_as_new(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow(
            "counter", input={"total": 0, "seen": 0, "until": 5}, instance_id=iid
        )
        for value in (1, 2, 3, 4, 5):  # some arrive while a turn is in flight
            client.raise_workflow_event(iid, "tick", data=value)
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=20)
        assert state is not None
        assert output(state) == {"total": 15, "seen": 5}


class TestSuspendResume:
    def test_suspended_run_buffers_events_until_resumed(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        client.pause_workflow(iid)
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status == WorkflowStatus.SUSPENDED
        client.raise_workflow_event(iid, "go", data="later")
        time.sleep(0.5)
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status == WorkflowStatus.SUSPENDED
        client.resume_workflow(iid)
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
        assert output(state) == "later"
        types = event_types(client, iid)
        assert types.index(Ev.EXECUTION_SUSPENDED) < types.index(Ev.EXECUTION_RESUMED)

    def test_resume_without_suspend_is_a_no_op(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        client.resume_workflow(iid)
        client.raise_workflow_event(iid, "go", data=1)
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
        assert Ev.EXECUTION_RESUMED not in event_types(client, iid)

    def test_terminate_gets_through_a_suspension(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        client.pause_workflow(iid)
        client.terminate_workflow(iid, output="stopped")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.TERMINATED
        assert output(state) == "stopped"

    def test_suspending_a_finished_run_is_refused(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "chain", 1, iid)
        with pytest.raises(grpc.RpcError) as err:
            client.pause_workflow(iid)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class TestTerminate:
    def test_recursive_terminate_reaches_grandchildren(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("grandparent", instance_id=iid)
        eventually(lambda: client.get_workflow_state(f"{iid}-p-child"))
        client.wait_for_workflow_start(f"{iid}-p-child", timeout_in_seconds=10)
        client.terminate_workflow(iid, recursive=True)
        for instance in (iid, f"{iid}-p", f"{iid}-p-child"):
            state = client.wait_for_workflow_completion(instance, timeout_in_seconds=10)
            assert state is not None
            assert state.runtime_status == WorkflowStatus.TERMINATED, instance

    def test_non_recursive_terminate_leaves_children_running(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        client.schedule_new_workflow("parent_of_waiting", instance_id=iid)
        eventually(lambda: client.get_workflow_state(f"{iid}-child"))
        client.wait_for_workflow_start(f"{iid}-child", timeout_in_seconds=10)
        client.terminate_workflow(iid, recursive=False)
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.TERMINATED
        child = client.get_workflow_state(f"{iid}-child")
        assert child is not None and child.runtime_status == WorkflowStatus.RUNNING
        client.raise_workflow_event(f"{iid}-child", "never", data=None)
        child = client.wait_for_workflow_completion(f"{iid}-child", timeout_in_seconds=10)
        assert child is not None and child.runtime_status == WorkflowStatus.COMPLETED

    def test_terminating_a_finished_run_changes_nothing(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        run(client, "chain", 1, iid)
        client.terminate_workflow(iid)
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED

    def test_terminating_an_unknown_instance_is_not_found(
        self, client: Client, new_id: NewId
    ) -> None:
        with pytest.raises(grpc.RpcError) as err:
            client.terminate_workflow(new_id())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


class TestPurge:
    def test_purge_removes_a_finished_run(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "chain", 1, iid)
        client.purge_workflow(iid)
        assert client.get_workflow_state(iid) is None
        with pytest.raises(grpc.RpcError) as err:
            client.get_workflow_history(iid)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

    def test_purge_refuses_a_running_run(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        with pytest.raises(grpc.RpcError) as err:
            client.purge_workflow(iid)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert client.get_workflow_state(iid) is not None
        client.terminate_workflow(iid)
        client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        client.purge_workflow(iid)
        assert client.get_workflow_state(iid) is None

    def test_recursive_purge_removes_children(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "parent", [1, 2], iid)
        client.purge_workflow(iid, recursive=True)
        for instance in (iid, f"{iid}-child-0", f"{iid}-child-1"):
            assert client.get_workflow_state(instance) is None

    def test_non_recursive_purge_keeps_children(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "parent", [1], iid)
        client.purge_workflow(iid, recursive=False)
        assert client.get_workflow_state(iid) is None
        assert client.get_workflow_state(f"{iid}-child-0") is not None

    def test_purging_an_unknown_instance_is_not_found(self, client: Client, new_id: NewId) -> None:
        with pytest.raises(grpc.RpcError) as err:
            client.purge_workflow(new_id())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


class TestInstanceIds:
    def test_running_duplicate_is_rejected(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        with pytest.raises(grpc.RpcError) as err:
            client.schedule_new_workflow("chain", input=1, instance_id=iid)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        client.raise_workflow_event(iid, "go", data="first")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == "first"

    def test_finished_id_can_be_reused(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        first = run(client, "chain", 1, iid)
        second = run(client, "chain", 10, iid)
        assert output(first) == 4 and output(second) == 13
        types = event_types(client, iid)
        assert types.count(Ev.EXECUTION_STARTED) == 1  # the old history is gone

    def test_generated_ids_are_unique(self, client: Client) -> None:
        a = client.schedule_new_workflow("chain", input=1)
        b = client.schedule_new_workflow("chain", input=1)
        assert a and b and a != b
        for iid in (a, b):
            state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
            assert state is not None and output(state) == 4

    def test_unknown_instance_has_no_state(self, client: Client, new_id: NewId) -> None:
        assert client.get_workflow_state(new_id()) is None


class TestScheduledStart:
    def test_run_waits_for_its_start_time(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        start_at = datetime.now(UTC) + timedelta(seconds=1.5)
        client.schedule_new_workflow("two_events", instance_id=iid, start_at=start_at)
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status == WorkflowStatus.PENDING
        client.raise_workflow_event(iid, "first", data=1)  # kept until the run starts
        client.raise_workflow_event(iid, "second", data=2)
        time.sleep(0.5)
        state = client.get_workflow_state(iid)
        assert state is not None and state.runtime_status == WorkflowStatus.PENDING
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and output(state) == [1, 2]
        history = client.get_workflow_history(iid)
        first_turn = history[0].timestamp
        assert first_turn >= start_at.replace(tzinfo=None) - timedelta(milliseconds=5)

    def test_wait_for_start_blocks_until_the_start_time(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        start_at = datetime.now(UTC) + timedelta(seconds=1)
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid, start_at=start_at)
        state = client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.RUNNING
        assert datetime.now(UTC) >= start_at
        client.terminate_workflow(iid)

    def test_scheduled_run_can_be_terminated_before_it_starts(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        start_at = datetime.now(UTC) + timedelta(hours=1)
        client.schedule_new_workflow("chain", input=1, instance_id=iid, start_at=start_at)
        client.terminate_workflow(iid, output="cancelled")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=5)
        assert state is not None and state.runtime_status == WorkflowStatus.TERMINATED
        assert output(state) == "cancelled"


class TestListAndHistory:
    def test_list_pages_through_every_instance(self, client: Client, new_id: NewId) -> None:
        ids = {new_id() for _ in range(5)}
        for iid in ids:
            client.schedule_new_workflow("chain", input=1, instance_id=iid)
        seen: list[str] = []
        token = None
        while True:
            page = client.list_workflow_instance_ids(page_size=2, continuation_token=token)
            assert len(page.instance_ids) <= 2
            seen.extend(page.instance_ids)
            if page.continuation_token is None:
                break
            token = page.continuation_token
        assert ids <= set(seen)
        assert len(seen) == len(set(seen))
        assert set(client.iter_workflow_instance_ids(page_size=3)) == set(seen)

    def test_history_of_unknown_instance_is_not_found(self, client: Client, new_id: NewId) -> None:
        with pytest.raises(grpc.RpcError) as err:
            client.get_workflow_history(new_id())
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


class TestRerun:
    def test_rerun_from_an_activity_replays_what_came_before(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        run(client, "steps", 1, iid)
        history = client.get_workflow_history(iid)
        second = [e for e in history if e.event_type == Ev.TASK_SCHEDULED][1]
        assert second.is_rerunnable
        new = client.rerun_workflow_from_event(
            iid, second.event_id, new_instance_id=f"{iid}-rerun", input={"step": "B", "x": 2}
        )
        assert new == f"{iid}-rerun"
        state = client.wait_for_workflow_completion(new, timeout_in_seconds=10)
        assert state is not None and state.runtime_status == WorkflowStatus.COMPLETED
        assert output(state) == [
            {"step": "a", "x": 1},
            {"step": "B", "x": 2},
            {"step": "c", "x": 1},
        ]
        # the first activity was replayed from history, not executed again
        assert recorder.inputs[f"echo:{new}"] == [{"step": "B", "x": 2}, {"step": "c", "x": 1}]
        source = client.get_workflow_state(iid)
        assert source is not None and source.runtime_status == WorkflowStatus.COMPLETED

    def test_rerun_keeps_the_original_input_by_default(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "steps", 7, iid)
        last = [e for e in client.get_workflow_history(iid) if e.event_type == Ev.TASK_SCHEDULED][
            -1
        ]
        new = client.rerun_workflow_from_event(iid, last.event_id)
        state = client.wait_for_workflow_completion(new, timeout_in_seconds=10)
        assert state is not None
        assert output(state) == [{"step": s, "x": 7} for s in "abc"]
        assert recorder.inputs[f"echo:{new}"] == [{"step": "c", "x": 7}]

    def test_rerun_from_a_timer(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "timer_steps", 1, iid)
        timer = next(
            e for e in client.get_workflow_history(iid) if e.event_type == Ev.TIMER_CREATED
        )
        new = client.rerun_workflow_from_event(iid, timer.event_id)
        state = client.wait_for_workflow_completion(new, timeout_in_seconds=10)
        assert state is not None and output(state) == ["a", "b"]
        assert recorder.inputs[f"echo:{new}"] == ["b"]

    def test_rerun_from_a_child_workflow(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "parent_steps", 3, iid)
        created = next(
            e
            for e in client.get_workflow_history(iid)
            if e.event_type == Ev.CHILD_WORKFLOW_INSTANCE_CREATED
        )
        new = client.rerun_workflow_from_event(
            iid, created.event_id, input=8, new_child_workflow_instance_id=f"{iid}-kid"
        )
        state = client.wait_for_workflow_completion(new, timeout_in_seconds=10)
        assert state is not None and output(state) == ["before", 90]
        kid = client.get_workflow_state(f"{iid}-kid")
        assert kid is not None and output(kid) == 90

    def test_rerun_rejects_bad_requests(self, client: Client, new_id: NewId) -> None:
        running = new_id()
        client.schedule_new_workflow("wait_event", input="x", instance_id=running)
        eventually(lambda: Ev.TIMER_CREATED in event_types(client, running))
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(running, 1)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        done = new_id()
        run(client, "timer_steps", 1, done)
        history = client.get_workflow_history(done)
        timer = next(e for e in history if e.event_type == Ev.TIMER_CREATED)
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(done, timer.event_id, input="x")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(done, 999)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(done, 0, new_instance_id=running)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(new_id(), 0)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

    def test_child_workflows_cannot_be_rerun(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        run(client, "parent", [1], iid)
        with pytest.raises(grpc.RpcError) as err:
            client.rerun_workflow_from_event(f"{iid}-child-0", 0)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestDeterminismSupport:
    def test_patched_workflow_replays_with_its_recorded_version(
        self, client: Client, new_id: NewId
    ) -> None:
        iid = new_id()
        state = run(client, "patched", 3, iid)
        assert state.runtime_status == WorkflowStatus.COMPLETED, state.failure_details
        assert output(state) == 11  # 3*3 + 1 + 1

    def test_turn_time_is_recorded_and_replayed(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        state = run(client, "timer_then_echo", 0.4, iid)
        waited = output(state)
        assert isinstance(waited, float) and waited >= 0.4

    def test_custom_status_is_reported(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("status_reporter", instance_id=iid)
        eventually(
            lambda: (
                (s := client.get_workflow_state(iid)) is not None
                and s.serialized_custom_status == "waiting for go"
            )
        )
        client.raise_workflow_event(iid, "go")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.serialized_custom_status == "done"


class TestLongPolls:
    def test_wait_for_completion_times_out(self, client: Client, new_id: NewId) -> None:
        iid = new_id()
        client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.wait_for_workflow_completion(iid, timeout_in_seconds=1)
        assert 0.9 <= time.monotonic() - started < 5

    def test_many_long_polls_do_not_starve_workers(self, client: Client, new_id: NewId) -> None:
        from concurrent.futures import ThreadPoolExecutor

        waiting = [new_id() for _ in range(20)]
        for iid in waiting:
            client.schedule_new_workflow("wait_event", input="go", instance_id=iid)
        with ThreadPoolExecutor(max_workers=20) as pool:
            polls = [
                pool.submit(client.wait_for_workflow_completion, iid, timeout_in_seconds=30)
                for iid in waiting
            ]
            time.sleep(0.3)
            state = run(client, "chain", 1, new_id(), timeout=10)
            assert output(state) == 4
            for iid in waiting:
                client.raise_workflow_event(iid, "go", data=iid)
            for iid, poll in zip(waiting, polls, strict=True):
                done = poll.result(timeout=30)
                assert done is not None and output(done) == iid
