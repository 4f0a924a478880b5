"""Committing an orchestration turn: a worker's actions become history, tasks, timers and
messages, all written in the one transaction that also consumes the turn's inbox rows."""

from __future__ import annotations

import logging
import sqlite3

from .model import AlreadyExistsError, Effects, InstanceRow, Key, Turn
from .protos import (
    CONTINUED_AS_NEW,
    FAILED,
    PENDING,
    RUNNING,
    STALLED,
    SUSPENDED,
    TERMINAL_STATUSES,
    TERMINATED,
    failure,
    is_never,
    pb,
    string_value,
    ts_to_us,
    us_to_ts,
)
from .tx import Tx, event, new_execution_id, parent_info

log = logging.getLogger(__name__)


def complete_turn(
    conn: sqlite3.Connection, turn: Turn, res: pb.WorkflowResponse, now: int
) -> Effects | None:
    """Apply a worker's response to the turn it answers; ``None`` if the turn is stale."""
    tx = Tx(conn, now)
    inst = tx.instance(turn.key)
    if (
        inst is None
        or inst.execution_id != turn.execution_id
        or inst.history_len != turn.history_len
        or inst.status in TERMINAL_STATUSES
    ):
        return None
    actions = list(res.actions)
    if any(a.HasField("workflowVersionNotAvailable") for a in actions):
        # Nothing is consumed: the turn runs again once a worker that has the version
        # connects.
        tx.set_status(inst.key, STALLED)
        tx.effects.stalled.add(inst.key)
        return tx.effects
    _Turn(tx, inst, turn, res).apply(actions)
    return tx.effects


class _Turn:
    def __init__(self, tx: Tx, inst: InstanceRow, turn: Turn, res: pb.WorkflowResponse) -> None:
        self.tx = tx
        self.inst = inst
        self.key: Key = inst.key
        self.turn = turn
        self.res = res
        self.now = tx.now
        self.history: list[bytes] = []
        self.custom_status = res.customStatus.value if res.HasField("customStatus") else None

    def apply(self, actions: list[pb.WorkflowAction]) -> None:
        new_events = self.turn.new_events
        if (
            self.res.HasField("version")
            and new_events
            and new_events[0].HasField("workflowStarted")
        ):
            # Patched workflows replay against the version the worker reported for the
            # turn, so it is saved inside that turn's WorkflowStarted event.
            new_events[0].workflowStarted.version.CopyFrom(self.res.version)
        self.history = [e.SerializeToString() for e in new_events]
        for action in actions:
            kind = action.WhichOneof("workflowActionType")
            if kind == "completeWorkflow":
                if action.completeWorkflow.workflowStatus == CONTINUED_AS_NEW:
                    self._continue_as_new(action.completeWorkflow)
                else:
                    self._complete(action)
                return
            handler = _HANDLERS.get(kind or "")
            if handler is None:
                log.warning("%s: ignoring unsupported workflow action %r", self.key, kind)
                continue
            handler(self, action)
        self._save()

    # -- the end of a turn ---------------------------------------------------------------

    def _save(self) -> None:
        tx = self.tx
        tx.append_history(self.key, self.inst.history_len, self.history)
        tx.consume_inbox(self.key, self.turn.inbox_ids)
        status = self.inst.status
        if status in (PENDING, STALLED):
            status = RUNNING
        tx.conn.execute(
            "UPDATE instances SET history_len = ?, custom_status = ?, status = ?, updated_at = ?, "
            "started_at = COALESCE(started_at, ?) WHERE app_id = ? AND instance_id = ?",
            (
                self.inst.history_len + len(self.history),
                self.custom_status,
                status,
                self.now,
                self.now,
                *self.key,
            ),
        )
        if status != self.inst.status:
            tx.effects.status_changed.add(self.key)

    def _complete(self, action: pb.WorkflowAction) -> None:
        done = action.completeWorkflow
        status = done.workflowStatus
        output = done.result.value if done.HasField("result") else None
        details = done.failureDetails if done.HasField("failureDetails") else None
        if status not in TERMINAL_STATUSES:
            details = failure(
                "InvalidCompletion", f"the worker completed the workflow with status {status}"
            )
            status = FAILED
        self.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=us_to_ts(self.now),
                executionCompleted=pb.ExecutionCompletedEvent(
                    workflowStatus=status,
                    result=done.result if done.HasField("result") else None,
                    failureDetails=details,
                ),
            ).SerializeToString()
        )
        tx = self.tx
        tx.append_history(self.key, self.inst.history_len, self.history)
        recurse = status == TERMINATED and any(
            e.HasField("executionTerminated") and e.executionTerminated.recurse
            for e in self.turn.new_events
        )
        tx.finish(
            self.inst,
            status,
            output=output,
            failure_details=details,
            custom_status=self.custom_status,
            history_len=self.inst.history_len + len(self.history),
            recurse_terminate=recurse,
        )

    def _continue_as_new(self, done: pb.CompleteWorkflowAction) -> None:
        """Start a fresh execution: new history with the carried-over events, then any
        event that arrived during this turn. The old execution's pending work is dropped,
        so its late completions can never reach the new one."""
        tx = self.tx
        key = self.key
        consumed = set(self.turn.inbox_ids)
        late = [
            (execution, data)
            for row_id, execution, data in tx.conn.execute(
                "SELECT id, execution_id, event FROM inbox WHERE app_id = ? AND instance_id = ? "
                "ORDER BY id",
                key,
            )
            if row_id not in consumed
        ]
        tx.drop_pending_work(key)
        tx.drop_inbox(key)
        tx.conn.execute("DELETE FROM history WHERE app_id = ? AND instance_id = ?", key)
        tx.effects.reset.add(key)

        execution_id = new_execution_id()
        start = pb.HistoryEvent.FromString(self.inst.start_event)
        start.timestamp.CopyFrom(us_to_ts(self.now))
        started = start.executionStarted
        started.ClearField("scheduledStartTimestamp")
        started.workflowInstance.executionId.value = execution_id
        new_input = done.result.value if done.HasField("result") else None
        if new_input is None:
            started.ClearField("input")
        else:
            started.input.value = new_input
        status = SUSPENDED if self.inst.status == SUSPENDED else RUNNING
        tx.conn.execute(
            "UPDATE instances SET execution_id = ?, input = ?, output = NULL, failure = NULL, "
            "custom_status = ?, status = ?, history_len = 0, start_event = ?, updated_at = ? "
            "WHERE app_id = ? AND instance_id = ?",
            (
                execution_id,
                new_input,
                self.custom_status,
                status,
                start.SerializeToString(),
                self.now,
                *key,
            ),
        )
        tx.effects.status_changed.add(key)
        tx.add_inbox(key, start, execution_id)
        for carried in done.carryoverEvents:
            if not carried.HasField("timestamp") or carried.timestamp.seconds == 0:
                carried.timestamp.CopyFrom(us_to_ts(self.now))
            tx.add_inbox(key, carried, execution_id)
        for execution, data in late:
            if execution is None:  # raised events, suspend/resume/terminate requests
                tx.add_inbox_raw(key, data, None)

    # -- actions ---------------------------------------------------------------------------

    def _target_app(self, action: pb.WorkflowAction) -> str:
        if action.HasField("router") and action.router.targetAppID:
            return action.router.targetAppID
        return self.key[0]

    def _router(self, action: pb.WorkflowAction) -> pb.TaskRouter:
        router = pb.TaskRouter()
        if action.HasField("router"):
            router.CopyFrom(action.router)
        router.sourceAppID = self.key[0]
        return router

    def _record(self, action: pb.WorkflowAction, **payload: object) -> None:
        self.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=us_to_ts(self.now),
                router=self._router(action),
                **payload,  # type: ignore[arg-type]
            ).SerializeToString()
        )

    def schedule_task(self, action: pb.WorkflowAction) -> None:
        task = action.scheduleTask
        version = task.version if task.HasField("version") else None
        task_input = task.input if task.HasField("input") else None
        self._record(
            action,
            taskScheduled=pb.TaskScheduledEvent(
                name=task.name,
                version=version,
                input=task_input,
                taskExecutionId=task.taskExecutionId,
                historyPropagationScope=task.historyPropagationScope,
            ),
        )
        request = pb.ActivityRequest(
            name=task.name,
            version=version,
            input=task_input,
            workflowInstance=pb.WorkflowInstance(
                instanceId=self.key[1], executionId=string_value(self.inst.execution_id)
            ),
            taskId=action.id,
            taskExecutionId=task.taskExecutionId,
        )
        self.tx.add_task(
            self._target_app(action),
            self.key,
            self.inst.execution_id,
            action.id,
            task.taskExecutionId,
            request,
        )

    def create_timer(self, action: pb.WorkflowAction) -> None:
        timer = action.createTimer
        created = pb.TimerCreatedEvent(fireAt=timer.fireAt, name=timer.name)
        origin = timer.WhichOneof("origin")
        if origin is not None:
            getattr(created, origin).CopyFrom(getattr(timer, origin))
        self._record(action, timerCreated=created)
        if is_never(timer.fireAt):
            return  # an indefinite wait: recorded, never scheduled
        fired = event(
            self.now, timerFired=pb.TimerFiredEvent(fireAt=timer.fireAt, timerId=action.id)
        )
        self.tx.add_timer(self.key, self.inst.execution_id, ts_to_us(timer.fireAt), fired)

    def create_child_workflow(self, action: pb.WorkflowAction) -> None:
        child = action.createChildWorkflow
        child_id = child.instanceId or f"{self.key[1]}:{action.id:04x}"
        version = child.version.value if child.HasField("version") else None
        child_input = child.input.value if child.HasField("input") else None
        self._record(
            action,
            childWorkflowInstanceCreated=pb.ChildWorkflowInstanceCreatedEvent(
                instanceId=child_id,
                name=child.name,
                version=string_value(version),
                input=string_value(child_input),
                historyPropagationScope=child.historyPropagationScope,
            ),
        )
        parent = parent_info(self.inst, action.id)
        try:
            self.tx.create_instance(
                (self._target_app(action), child_id),
                name=child.name,
                version=version,
                input=child_input,
                parent=parent,
                parent_key=self.key,
            )
        except AlreadyExistsError as exc:
            self.tx.add_inbox(
                self.key,
                event(
                    self.now,
                    childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                        taskScheduledId=action.id,
                        failureDetails=failure("WorkflowAlreadyExists", exc.message),
                    ),
                ),
                self.inst.execution_id,
            )

    def create_detached_workflow(self, action: pb.WorkflowAction) -> None:
        detached = action.createDetachedWorkflow
        instance_id = detached.instanceId or new_execution_id()
        self._record(
            action,
            detachedWorkflowInstanceCreated=pb.DetachedWorkflowInstanceCreatedEvent(
                instanceId=instance_id
            ),
        )
        try:
            self.tx.create_instance(
                (self._target_app(action), instance_id),
                name=detached.name,
                version=detached.version.value if detached.HasField("version") else None,
                input=detached.input.value if detached.HasField("input") else None,
                scheduled_start_at=(
                    ts_to_us(detached.scheduledStartTimestamp)
                    if detached.HasField("scheduledStartTimestamp")
                    else None
                ),
                tags=dict(detached.tags),
                trace_context=(
                    detached.parentTraceContext if detached.HasField("parentTraceContext") else None
                ),
            )
        except AlreadyExistsError as exc:
            log.warning("%s: detached workflow not started: %s", self.key, exc.message)

    def send_event(self, action: pb.WorkflowAction) -> None:
        send = action.sendEvent
        data = send.data if send.HasField("data") else None
        self._record(
            action,
            eventSent=pb.EventSentEvent(
                instanceId=send.instance.instanceId, name=send.name, input=data
            ),
        )
        self.tx.send(
            (self._target_app(action), send.instance.instanceId),
            event(self.now, eventRaised=pb.EventRaisedEvent(name=send.name, input=data)),
        )

    def terminate_workflow(self, action: pb.WorkflowAction) -> None:
        terminate = action.terminateWorkflow
        self.tx.send(
            (self._target_app(action), terminate.instanceId),
            event(
                self.now,
                executionTerminated=pb.ExecutionTerminatedEvent(
                    input=terminate.reason if terminate.HasField("reason") else None,
                    recurse=terminate.recurse,
                ),
            ),
        )


_HANDLERS = {
    "scheduleTask": _Turn.schedule_task,
    "createTimer": _Turn.create_timer,
    "createChildWorkflow": _Turn.create_child_workflow,
    "createDetachedWorkflow": _Turn.create_detached_workflow,
    "sendEvent": _Turn.send_event,
    "terminateWorkflow": _Turn.terminate_workflow,
}
