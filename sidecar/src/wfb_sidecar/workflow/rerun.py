"""Rerunning a finished workflow from one of its history events.

The new instance gets the source's history up to (not including) the chosen event, so
everything before it is replayed rather than executed again; the chosen event's work
(an activity, a timer or a child workflow) is done again, optionally with a new input.
Work that was still open at that point is dropped from the copied history, so the
workflow schedules it again when it replays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import InvalidArgumentError, NotFoundError
from .protos import is_never, pb, ts_to_us, wrappers_pb2

RERUNNABLE = ("taskScheduled", "timerCreated", "childWorkflowInstanceCreated")

# Control events that describe the source run's lifecycle, not its logic.
_LIFECYCLE = frozenset(
    {
        "executionSuspended",
        "executionResumed",
        "executionTerminated",
        "executionStalled",
        "executionCompleted",
    }
)


@dataclass
class Fork:
    history: list[pb.HistoryEvent]
    target: pb.HistoryEvent  # delivered as the new instance's first new event
    kind: str  # which of RERUNNABLE the target is
    target_delay_us: int | None = None  # for a timer target: its original duration
    open_timers: list[pb.HistoryEvent] = field(default_factory=list)  # to schedule again


def fork_history(
    events: list[pb.HistoryEvent],
    event_id: int,
    *,
    new_input: wrappers_pb2.StringValue | None,
    overwrite_input: bool,
    new_child_instance_id: str | None,
) -> Fork:
    index = _find_target(events, event_id)
    target = pb.HistoryEvent()
    target.CopyFrom(events[index])
    kind = target.WhichOneof("eventType") or ""
    if kind == "timerCreated" and overwrite_input:
        raise InvalidArgumentError(f"event {event_id} is a timer, which takes no input")
    if new_child_instance_id is not None and kind != "childWorkflowInstanceCreated":
        raise InvalidArgumentError(
            f"a new child workflow instance ID was given, but event {event_id} does not "
            "create a child workflow"
        )
    if overwrite_input:
        payload = getattr(target, kind)
        if new_input is None:
            payload.ClearField("input")
        else:
            payload.input.CopyFrom(new_input)

    prefix = [e for e in events[:index] if e.WhichOneof("eventType") not in _LIFECYCLE]
    history, open_timers = _drop_open_work(prefix)
    delay = None
    if kind == "timerCreated" and not is_never(target.timerCreated.fireAt):
        delay = max(0, ts_to_us(target.timerCreated.fireAt) - ts_to_us(target.timestamp))
    return Fork(history, target, kind, delay, open_timers)


def _find_target(events: list[pb.HistoryEvent], event_id: int) -> int:
    kinds: list[str] = []
    for index, ev in enumerate(events):
        if ev.eventId != event_id or ev.eventId < 0:
            continue
        kind = ev.WhichOneof("eventType") or ""
        if kind in RERUNNABLE:
            return index
        kinds.append(kind)
    if "detachedWorkflowInstanceCreated" in kinds:
        raise InvalidArgumentError(
            f"event {event_id} starts a detached workflow, which cannot be rerun from"
        )
    if kinds:
        raise NotFoundError(
            f"event {event_id} is a {kinds[0]} event; a workflow can be rerun only from a "
            "scheduled activity, a created timer or a created child workflow"
        )
    raise NotFoundError(f"the workflow's history has no event with ID {event_id}")


def _drop_open_work(
    prefix: list[pb.HistoryEvent],
) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
    """Remove activities and child workflows not finished within the prefix; list the
    timers that had not fired."""
    open_tasks: set[int] = set()
    open_children: set[int] = set()
    open_timers: dict[int, pb.HistoryEvent] = {}
    for ev in prefix:
        kind = ev.WhichOneof("eventType")
        if kind == "taskScheduled":
            open_tasks.add(ev.eventId)
        elif kind == "taskCompleted":
            open_tasks.discard(ev.taskCompleted.taskScheduledId)
        elif kind == "taskFailed":
            open_tasks.discard(ev.taskFailed.taskScheduledId)
        elif kind == "childWorkflowInstanceCreated":
            open_children.add(ev.eventId)
        elif kind == "childWorkflowInstanceCompleted":
            open_children.discard(ev.childWorkflowInstanceCompleted.taskScheduledId)
        elif kind == "childWorkflowInstanceFailed":
            open_children.discard(ev.childWorkflowInstanceFailed.taskScheduledId)
        elif kind == "timerCreated":
            open_timers[ev.eventId] = ev
        elif kind == "timerFired":
            open_timers.pop(ev.timerFired.timerId, None)
    kept = [
        ev
        for ev in prefix
        if not (
            (ev.HasField("taskScheduled") and ev.eventId in open_tasks)
            or (ev.HasField("childWorkflowInstanceCreated") and ev.eventId in open_children)
        )
    ]
    timers = [ev for ev in open_timers.values() if not is_never(ev.timerCreated.fireAt)]
    return kept, timers
