"""Forking a finished run's history for a rerun."""

from __future__ import annotations

import pytest

from wfb_sidecar.workflow.model import InvalidArgumentError, NotFoundError
from wfb_sidecar.workflow.protos import pb, us_to_ts, wrappers_pb2
from wfb_sidecar.workflow.rerun import fork_history

pytestmark = pytest.mark.unit


def ev(event_id: int = -1, at: int = 0, **payload: object) -> pb.HistoryEvent:
    return pb.HistoryEvent(eventId=event_id, timestamp=us_to_ts(at), **payload)  # type: ignore[arg-type]


def scheduled(i: int, name: str = "act", value: str = '"in"') -> pb.HistoryEvent:
    return ev(
        i,
        taskScheduled=pb.TaskScheduledEvent(name=name, input=wrappers_pb2.StringValue(value=value)),
    )


def completed(i: int) -> pb.HistoryEvent:
    return ev(taskCompleted=pb.TaskCompletedEvent(taskScheduledId=i))


def started() -> list[pb.HistoryEvent]:
    return [
        ev(workflowStarted=pb.WorkflowStartedEvent()),
        ev(executionStarted=pb.ExecutionStartedEvent(name="wf")),
    ]


def kinds(events: list[pb.HistoryEvent]) -> list[tuple[str, int]]:
    return [(e.WhichOneof("eventType") or "", e.eventId) for e in events]


class TestFork:
    def test_history_before_the_target_is_kept(self) -> None:
        history = [
            *started(),
            scheduled(1),
            ev(workflowStarted=pb.WorkflowStartedEvent()),
            completed(1),
            scheduled(2),
            ev(workflowStarted=pb.WorkflowStartedEvent()),
            completed(2),
            ev(3, executionCompleted=pb.ExecutionCompletedEvent()),
        ]
        fork = fork_history(
            history, 2, new_input=None, overwrite_input=False, new_child_instance_id=None
        )
        assert fork.kind == "taskScheduled"
        assert kinds(fork.history) == [
            ("workflowStarted", -1),
            ("executionStarted", -1),
            ("taskScheduled", 1),
            ("workflowStarted", -1),
            ("taskCompleted", -1),
        ]
        assert fork.target.taskScheduled.input.value == '"in"'

    def test_new_input_replaces_the_targets(self) -> None:
        history = [*started(), scheduled(1)]
        fork = fork_history(
            history,
            1,
            new_input=wrappers_pb2.StringValue(value='"new"'),
            overwrite_input=True,
            new_child_instance_id=None,
        )
        assert fork.target.taskScheduled.input.value == '"new"'
        cleared = fork_history(
            history, 1, new_input=None, overwrite_input=True, new_child_instance_id=None
        )
        assert not cleared.target.taskScheduled.HasField("input")
        assert history[2].taskScheduled.input.value == '"in"'  # the source is untouched

    def test_unfinished_parallel_work_is_dropped_to_be_scheduled_again(self) -> None:
        history = [
            *started(),
            scheduled(1),
            scheduled(2),
            scheduled(3),
            ev(workflowStarted=pb.WorkflowStartedEvent()),
            completed(1),
            completed(2),
            completed(3),
        ]
        fork = fork_history(
            history, 2, new_input=None, overwrite_input=False, new_child_instance_id=None
        )
        assert ("taskScheduled", 1) not in kinds(fork.history)  # it finished only later

    def test_open_timers_are_listed_and_lifecycle_events_dropped(self) -> None:
        history = [
            *started(),
            ev(1, timerCreated=pb.TimerCreatedEvent(fireAt=us_to_ts(5_000_000))),
            ev(executionSuspended=pb.ExecutionSuspendedEvent()),
            ev(executionResumed=pb.ExecutionResumedEvent()),
            scheduled(2),
        ]
        fork = fork_history(
            history, 2, new_input=None, overwrite_input=False, new_child_instance_id=None
        )
        assert [t.eventId for t in fork.open_timers] == [1]
        assert "executionSuspended" not in [k for k, _ in kinds(fork.history)]

    def test_timer_target_keeps_its_duration(self) -> None:
        history = [
            *started(),
            ev(1, at=1_000_000, timerCreated=pb.TimerCreatedEvent(fireAt=us_to_ts(4_000_000))),
        ]
        fork = fork_history(
            history, 1, new_input=None, overwrite_input=False, new_child_instance_id=None
        )
        assert fork.kind == "timerCreated" and fork.target_delay_us == 3_000_000

    def test_bad_targets_are_refused(self) -> None:
        history = [
            *started(),
            scheduled(1),
            ev(2, timerCreated=pb.TimerCreatedEvent(fireAt=us_to_ts(1))),
            ev(3, eventSent=pb.EventSentEvent(instanceId="x", name="e")),
            ev(4, detachedWorkflowInstanceCreated=pb.DetachedWorkflowInstanceCreatedEvent()),
        ]

        def fork(event_id: int, **kw: object) -> object:
            args: dict[str, object] = {
                "new_input": None,
                "overwrite_input": False,
                "new_child_instance_id": None,
                **kw,
            }
            return fork_history(history, event_id, **args)  # type: ignore[arg-type]

        with pytest.raises(NotFoundError, match="no event"):
            fork(99)
        with pytest.raises(NotFoundError, match="eventSent"):
            fork(3)
        with pytest.raises(InvalidArgumentError, match="detached"):
            fork(4)
        with pytest.raises(InvalidArgumentError, match="timer"):
            fork(2, overwrite_input=True)
        with pytest.raises(InvalidArgumentError, match="child workflow"):
            fork(1, new_child_instance_id="kid")
