"""Run ``dynamic_workflow`` in-process against an in-memory history, with virtual time.

The simulator plays the part of a Dapr workflow backend for the SDK's own orchestration
executor: every turn replays the whole history into the workflow function exactly as a
real worker does, so a non-deterministic decision fails here the way it would fail after
a crash. Activities are plain callables (real ones or fakes); timers fire when the test
advances the clock; external events are raised by the test. It backs the interpreter's
unit tests and the replay check of recorded histories, and needs no sidecar.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow._durabletask.internal import helpers
from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf import json_format

from orchestrator.interpreter.contracts import WORKFLOW_NAME
from orchestrator.interpreter.inline import execute_turn, registry, turn_started
from orchestrator.interpreter.inline import timestamp as _ts

Activity = Callable[[Any], Any]


@dataclass
class SimRun:
    simulator: Simulator
    instance_id: str
    history: list[pb.HistoryEvent] = field(default_factory=list)
    inbox: list[pb.HistoryEvent] = field(default_factory=list)
    timers: dict[int, datetime] = field(default_factory=dict)
    status: str = "RUNNING"
    output: Any = None
    failure: str | None = None
    custom_status: Any = None
    activity_calls: list[tuple[str, Any]] = field(default_factory=list)
    scheduled_turns: list[int] = field(default_factory=list)
    children: dict[str, SimRun] = field(default_factory=dict)
    turns: int = 0

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"

    def turn(self) -> None:
        """One orchestration turn: replay history, apply the new events, act."""
        if self.done or not self.inbox:
            return
        self.turns += 1
        new_events = [turn_started(self.simulator.now), *self.inbox]
        self.inbox = []
        result = execute_turn(self.instance_id, self.history, new_events, self.simulator.registry)
        self.history.extend(new_events)
        if result.encoded_custom_status is not None:
            self.custom_status = json.loads(result.encoded_custom_status)
        for action in result.actions:
            self.apply(action)

    def apply(self, action: pb.WorkflowAction) -> None:
        kind = action.WhichOneof("workflowActionType")
        if kind == "scheduleTask":
            name = action.scheduleTask.name
            raw = action.scheduleTask.input.value if action.scheduleTask.HasField("input") else None
            self.history.append(helpers.new_task_scheduled_event(action.id, name, raw))
            payload = json.loads(raw) if raw else None
            self.activity_calls.append((name, payload))
            self.scheduled_turns.append(self.turns)
            try:
                output = self.simulator.activities[name](payload)
            except Exception as exc:  # the activity's failure becomes TaskFailed, as in Dapr
                self.inbox.append(helpers.new_task_failed_event(action.id, exc))
            else:
                self.inbox.append(helpers.new_task_completed_event(action.id, json.dumps(output)))
        elif kind == "createTimer":
            fire_at = action.createTimer.fireAt.ToDatetime().replace(tzinfo=UTC)
            event = pb.HistoryEvent(eventId=action.id, timestamp=_ts(self.simulator.now))
            event.timerCreated.fireAt.CopyFrom(action.createTimer.fireAt)
            self.history.append(event)
            self.timers[action.id] = fire_at
        elif kind == "createChildWorkflow":
            child = action.createChildWorkflow
            raw = child.input.value if child.HasField("input") else None
            self.history.append(
                helpers.new_child_workflow_created_event(
                    action.id, child.name, child.instanceId, raw
                )
            )
            run = self.simulator.start(child.instanceId, json.loads(raw) if raw else None)
            self.children[child.instanceId] = run
            self.simulator.settle(run)
            if run.status == "COMPLETED":
                self.inbox.append(
                    helpers.new_child_workflow_completed_event(action.id, json.dumps(run.output))
                )
            else:
                self.inbox.append(
                    helpers.new_child_workflow_failed_event(
                        action.id, RuntimeError(run.failure or run.status)
                    )
                )
        elif kind == "completeWorkflow":
            complete = action.completeWorkflow
            status = complete.workflowStatus
            if status == pb.ORCHESTRATION_STATUS_COMPLETED:
                self.status = "COMPLETED"
                self.output = json.loads(complete.result.value) if complete.result.value else None
            elif status == pb.ORCHESTRATION_STATUS_FAILED:
                self.status = "FAILED"
                self.failure = complete.failureDetails.errorMessage
            else:
                self.status = pb.OrchestrationStatus.Name(status)

    def raise_event(self, name: str, data: Any) -> None:
        self.inbox.append(helpers.new_event_raised_event(name, json.dumps(data)))
        self.simulator.settle(self)

    def next_timer(self) -> datetime | None:
        return min(self.timers.values(), default=None)

    def history_json(self) -> list[dict[str, Any]]:
        return [json_format.MessageToDict(e) for e in self.history]


class Simulator:
    def __init__(
        self,
        activities: Mapping[str, Activity],
        *,
        start: datetime = datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
    ) -> None:
        self.activities = dict(activities)
        self.now = start
        self.registry = registry()
        self.runs: dict[str, SimRun] = {}

    def start(self, instance_id: str, workflow_input: Any) -> SimRun:
        run = SimRun(self, instance_id)
        started = helpers.new_execution_started_event(
            WORKFLOW_NAME, instance_id, json.dumps(workflow_input)
        )
        run.inbox.append(started)
        self.runs[instance_id] = run
        return run

    def settle(self, run: SimRun) -> None:
        """Run turns until the run waits on a timer or an external event, or ends."""
        while run.inbox and not run.done:
            run.turn()

    def run(self, instance_id: str, workflow_input: Any, *, auto_timers: bool = True) -> SimRun:
        run = self.start(instance_id, workflow_input)
        self.settle(run)
        while auto_timers and not run.done and run.timers:
            self.advance(run)
        return run

    def advance(self, run: SimRun, by: timedelta | None = None) -> None:
        """Move the clock to the next timer (or by ``by``) and fire what is due."""
        target = self.now + by if by is not None else run.next_timer()
        if target is None:
            return
        self.now = max(self.now, target)
        for timer_id, fire_at in sorted(run.timers.items(), key=lambda kv: (kv[1], kv[0])):
            if fire_at <= self.now:
                del run.timers[timer_id]
                event = pb.HistoryEvent(eventId=-1, timestamp=_ts(self.now))
                event.timerFired.fireAt.CopyFrom(_ts(fire_at))
                event.timerFired.timerId = timer_id
                run.inbox.append(event)
        self.settle(run)


def replay(history: list[dict[str, Any]], instance_id: str) -> list[Any]:
    """Replay a recorded history through the current workflow code in one turn.

    Returns the actions of the last turn; when today's code decides differently from the
    code that produced the history, that is a failed-completion action naming the
    non-determinism.
    """
    events = [json_format.ParseDict(e, pb.HistoryEvent()) for e in history]
    split = max(i for i, e in enumerate(events) if e.HasField("workflowStarted"))
    result = execute_turn(instance_id, events[:split], events[split:], registry())
    return list(result.actions)
