"""Store operations: each function runs on a store thread with a sqlite3 connection.

Write operations return the :class:`Effects` of what they changed; they are called inside
the writer's batch transaction, so each one is atomic and durable once its future
resolves.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass

from .model import (
    ActivityItem,
    AlreadyExistsError,
    Effects,
    FailedPreconditionError,
    InstanceRow,
    InvalidArgumentError,
    Key,
    NotFoundError,
    TurnData,
)
from .protos import (
    FAILED,
    PENDING,
    RUNNING,
    SUSPENDED,
    TERMINAL_STATUSES,
    TERMINATED,
    failure,
    is_never,
    pb,
    string_value,
    timestamp_pb2,
    ts_to_us,
    us_to_ts,
)
from .rerun import fork_history
from .tx import Tx, event, new_execution_id, parent_info, read_instance

MAX_INSTANCE_ID_LENGTH = 1024


def validate_instance_id(instance_id: str) -> None:
    if not instance_id:
        raise InvalidArgumentError("an instance ID is required")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidArgumentError(
            f"instance ID is {len(instance_id)} characters long; the limit is "
            f"{MAX_INSTANCE_ID_LENGTH}"
        )
    if any(ord(ch) < 0x20 for ch in instance_id):
        raise InvalidArgumentError("instance ID must not contain control characters")


def _existing(tx: Tx, key: Key) -> InstanceRow:
    inst = tx.instance(key)
    if inst is None:
        raise NotFoundError(f"no such instance exists: '{key[1]}'")
    return inst


# -- client operations ---------------------------------------------------------------------


def start_instance(
    conn: sqlite3.Connection, app_id: str, req: pb.CreateInstanceRequest, now: int
) -> tuple[str, Effects]:
    if not req.name:
        raise InvalidArgumentError("a workflow name is required")
    instance_id = req.instanceId or uuid.uuid4().hex
    validate_instance_id(instance_id)
    tx = Tx(conn, now)
    tx.create_instance(
        (app_id, instance_id),
        name=req.name,
        version=req.version.value if req.HasField("version") and req.version.value else None,
        input=req.input.value if req.HasField("input") else None,
        scheduled_start_at=(
            ts_to_us(req.scheduledStartTimestamp)
            if req.HasField("scheduledStartTimestamp")
            else None
        ),
        tags=dict(req.tags),
        trace_context=req.parentTraceContext if req.HasField("parentTraceContext") else None,
        execution_id=req.executionId.value if req.HasField("executionId") else None,
    )
    return instance_id, tx.effects


def raise_event(
    conn: sqlite3.Connection, key: Key, name: str, data: pb.RaiseEventRequest, now: int
) -> Effects:
    """Queue an external event. Events for finished or unknown instances are dropped,
    as the SDK documents."""
    if not name:
        raise InvalidArgumentError("an event name is required")
    tx = Tx(conn, now)
    tx.send(
        key,
        event(
            now,
            eventRaised=pb.EventRaisedEvent(
                name=name, input=data.input if data.HasField("input") else None
            ),
        ),
    )
    return tx.effects


def terminate(
    conn: sqlite3.Connection,
    key: Key,
    output: str | None,
    recursive: bool,
    now: int,
    *,
    may_finish_directly: bool,
) -> Effects:
    """Terminate a run. A run that never had a turn (e.g. one scheduled for later) is
    finished here; any other gets a terminate event that its next turn applies (a
    suspended run too: the SDK never buffers terminations)."""
    tx = Tx(conn, now)
    inst = _existing(tx, key)
    if inst.status in TERMINAL_STATUSES:
        return tx.effects
    terminated = event(
        now,
        executionTerminated=pb.ExecutionTerminatedEvent(
            input=string_value(output), recurse=recursive
        ),
    )
    if inst.history_len > 0 or not may_finish_directly:
        tx.add_inbox(key, terminated, None)
        return tx.effects
    start = pb.HistoryEvent.FromString(inst.start_event)
    completed = event(
        now,
        executionCompleted=pb.ExecutionCompletedEvent(
            workflowStatus=TERMINATED, result=string_value(output)
        ),
    )
    history = [start, terminated, completed]
    tx.append_history(key, 0, [e.SerializeToString() for e in history])
    tx.finish(
        inst,
        TERMINATED,
        output=output,
        failure_details=None,
        custom_status=None,
        history_len=len(history),
    )
    return tx.effects


def fail_instance(conn: sqlite3.Connection, key: Key, message: str, now: int) -> Effects:
    """End a run whose progress the backend cannot record."""
    tx = Tx(conn, now)
    inst = tx.instance(key)
    if inst is None or inst.status in TERMINAL_STATUSES:
        return tx.effects
    details = failure("SidecarError", message)
    completed = event(
        now,
        executionCompleted=pb.ExecutionCompletedEvent(
            workflowStatus=FAILED, failureDetails=details
        ),
    )
    tx.append_history(key, inst.history_len, [completed.SerializeToString()])
    tx.finish(
        inst,
        FAILED,
        output=None,
        failure_details=details,
        custom_status=inst.custom_status,
        history_len=inst.history_len + 1,
    )
    return tx.effects


def suspend(conn: sqlite3.Connection, key: Key, reason: str | None, now: int) -> Effects:
    tx = Tx(conn, now)
    inst = _existing(tx, key)
    if inst.status in TERMINAL_STATUSES:
        raise FailedPreconditionError(
            f"instance '{key[1]}' has already finished and cannot be suspended"
        )
    if inst.status == SUSPENDED:
        return tx.effects
    tx.set_status(key, SUSPENDED)
    tx.add_inbox(
        key,
        event(now, executionSuspended=pb.ExecutionSuspendedEvent(input=string_value(reason))),
        None,
    )
    return tx.effects


def resume(conn: sqlite3.Connection, key: Key, reason: str | None, now: int) -> Effects:
    """Resume a suspended run; resuming one that is not suspended does nothing (the SDK
    rejects a resume event with no suspension before it)."""
    tx = Tx(conn, now)
    inst = _existing(tx, key)
    if inst.status != SUSPENDED:
        return tx.effects
    tx.set_status(key, RUNNING if inst.history_len > 0 else PENDING)
    tx.add_inbox(
        key,
        event(now, executionResumed=pb.ExecutionResumedEvent(input=string_value(reason))),
        None,
    )
    return tx.effects


def purge_instance(
    conn: sqlite3.Connection, key: Key, recursive: bool, force: bool, now: int
) -> tuple[int, Effects]:
    tx = Tx(conn, now)
    inst = _existing(tx, key)
    doomed = _purge_set(tx, inst, recursive, force, strict=True)
    for row in doomed:
        tx.delete_instance(row.key)
    return len(doomed), tx.effects


def purge_matching(
    conn: sqlite3.Connection,
    app_id: str,
    created_from: int | None,
    created_to: int | None,
    statuses: list[int],
    recursive: bool,
    force: bool,
    now: int,
) -> tuple[int, Effects]:
    tx = Tx(conn, now)
    query = "SELECT instance_id FROM instances WHERE app_id = ?"
    params: list[object] = [app_id]
    if created_from is not None:
        query += " AND created_at >= ?"
        params.append(created_from)
    if created_to is not None:
        query += " AND created_at < ?"
        params.append(created_to)
    wanted = set(statuses) if statuses else set(TERMINAL_STATUSES)
    deleted: set[Key] = set()
    for (instance_id,) in conn.execute(query, params).fetchall():
        key = (app_id, instance_id)
        inst = tx.instance(key)
        if inst is None or key in deleted or inst.status not in wanted:
            continue
        if inst.status not in TERMINAL_STATUSES and not force:
            continue
        for row in _purge_set(tx, inst, recursive, force, strict=False):
            if row.key not in deleted:
                tx.delete_instance(row.key)
                deleted.add(row.key)
    return len(deleted), tx.effects


def _purge_set(
    tx: Tx, root: InstanceRow, recursive: bool, force: bool, *, strict: bool
) -> list[InstanceRow]:
    """The instance and (when recursive) its descendants, checked to be finished."""
    found: list[InstanceRow] = []
    pending = [root]
    seen: set[Key] = set()
    while pending:
        inst = pending.pop()
        if inst.key in seen:
            continue
        seen.add(inst.key)
        if inst.status not in TERMINAL_STATUSES and not force:
            if strict:
                raise FailedPreconditionError(
                    f"instance '{inst.instance_id}' is still running; only finished runs "
                    "can be purged (force a purge to remove a running one)"
                )
            continue
        found.append(inst)
        if recursive:
            pending.extend(tx.children(inst.key))
    return found


def rerun(
    conn: sqlite3.Connection, app_id: str, req: pb.RerunWorkflowFromEventRequest, now: int
) -> tuple[str, Effects]:
    tx = Tx(conn, now)
    source = _existing(tx, (app_id, req.sourceInstanceID))
    if source.status not in TERMINAL_STATUSES:
        raise InvalidArgumentError(
            f"instance '{source.instance_id}' is not in a terminal state; only finished runs "
            "can be rerun"
        )
    if source.parent_instance_id is not None:
        raise InvalidArgumentError(
            f"instance '{source.instance_id}' is a child workflow; rerun its parent instead"
        )
    new_id = req.newInstanceID if req.HasField("newInstanceID") else uuid.uuid4().hex
    validate_instance_id(new_id)
    new_key = (app_id, new_id)
    if tx.instance(new_key) is not None:
        raise AlreadyExistsError(f"an instance with ID '{new_id}' already exists")
    child_id = (
        req.newChildWorkflowInstanceID if req.HasField("newChildWorkflowInstanceID") else None
    )
    if child_id is not None:
        validate_instance_id(child_id)
    events = [pb.HistoryEvent.FromString(data) for data in read_history(conn, source.key)]
    fork = fork_history(
        events,
        req.eventID,
        new_input=req.input if req.HasField("input") else None,
        overwrite_input=req.overwriteInput,
        new_child_instance_id=child_id,
    )
    execution_id = new_execution_id()
    start_event = _rewrite_start(fork.history, new_id, execution_id, source)
    row = InstanceRow(
        app_id=app_id,
        instance_id=new_id,
        execution_id=execution_id,
        name=source.name,
        version=source.version,
        status=RUNNING,
        created_at=now,
        updated_at=now,
        started_at=now,
        completed_at=None,
        scheduled_start_at=None,
        input=start_event.executionStarted.input.value
        if start_event.executionStarted.HasField("input")
        else None,
        output=None,
        custom_status=None,
        failure=None,
        parent_app_id=None,
        parent_instance_id=None,
        parent_execution_id=None,
        parent_task_id=None,
        start_event=start_event.SerializeToString(),
        history_len=len(fork.history),
    )
    tx.insert_instance(row)
    tx.append_history(new_key, 0, [e.SerializeToString() for e in fork.history])
    for timer in fork.open_timers:
        _schedule_timer(tx, new_key, execution_id, timer.eventId, timer.timerCreated.fireAt)
    target = fork.target
    target.timestamp.CopyFrom(us_to_ts(now))
    rerun_parent = pb.RerunParentInstanceInfo(instanceID=source.instance_id)
    if fork.kind == "taskScheduled":
        _rerun_activity(tx, new_key, execution_id, target, rerun_parent)
    elif fork.kind == "timerCreated":
        target.timerCreated.rerunParentInstanceInfo.CopyFrom(rerun_parent)
        if fork.target_delay_us is not None:
            fire_at = us_to_ts(now + fork.target_delay_us)
            target.timerCreated.fireAt.CopyFrom(fire_at)
            _schedule_timer(tx, new_key, execution_id, target.eventId, fire_at)
    else:
        _rerun_child(tx, row, target, child_id, rerun_parent)
    tx.add_inbox(new_key, target, execution_id)
    tx.effects.status_changed.add(new_key)
    return new_id, tx.effects


def _rewrite_start(
    history: list[pb.HistoryEvent], new_id: str, execution_id: str, source: InstanceRow
) -> pb.HistoryEvent:
    for ev in history:
        if ev.HasField("executionStarted"):
            ev.executionStarted.workflowInstance.instanceId = new_id
            ev.executionStarted.workflowInstance.executionId.value = execution_id
            return ev
    raise FailedPreconditionError(
        f"instance '{source.instance_id}' has no ExecutionStarted event to rerun from"
    )


def _schedule_timer(
    tx: Tx, key: Key, execution_id: str, timer_id: int, fire_at: timestamp_pb2.Timestamp
) -> None:
    if is_never(fire_at):
        return
    fired = event(tx.now, timerFired=pb.TimerFiredEvent(fireAt=fire_at, timerId=timer_id))
    tx.add_timer(key, execution_id, ts_to_us(fire_at), fired)


def _rerun_activity(
    tx: Tx,
    key: Key,
    execution_id: str,
    target: pb.HistoryEvent,
    rerun_parent: pb.RerunParentInstanceInfo,
) -> None:
    task = target.taskScheduled
    task.taskExecutionId = uuid.uuid4().hex
    task.rerunParentInstanceInfo.CopyFrom(rerun_parent)
    app = target.router.targetAppID if target.router.targetAppID else key[0]
    request = pb.ActivityRequest(
        name=task.name,
        version=task.version if task.HasField("version") else None,
        input=task.input if task.HasField("input") else None,
        workflowInstance=pb.WorkflowInstance(
            instanceId=key[1], executionId=string_value(execution_id)
        ),
        taskId=target.eventId,
        taskExecutionId=task.taskExecutionId,
    )
    tx.add_task(app, key, execution_id, target.eventId, task.taskExecutionId, request)


def _rerun_child(
    tx: Tx,
    parent: InstanceRow,
    target: pb.HistoryEvent,
    child_id: str | None,
    rerun_parent: pb.RerunParentInstanceInfo,
) -> None:
    created = target.childWorkflowInstanceCreated
    created.instanceId = child_id or f"{parent.instance_id}:{target.eventId:04x}"
    created.rerunParentInstanceInfo.CopyFrom(rerun_parent)
    app = target.router.targetAppID if target.router.targetAppID else parent.app_id
    info = parent_info(parent, target.eventId)
    tx.create_instance(
        (app, created.instanceId),
        name=created.name,
        version=created.version.value if created.HasField("version") else None,
        input=created.input.value if created.HasField("input") else None,
        parent=info,
        parent_key=parent.key,
    )


# -- worker results and timers ------------------------------------------------------------


def complete_activity(
    conn: sqlite3.Connection, item: ActivityItem, res: pb.ActivityResponse, now: int
) -> Effects | None:
    """Record an activity's result for its workflow, once; ``None`` if already recorded
    (or the workflow's execution is over)."""
    cur = conn.execute(
        "DELETE FROM tasks WHERE id = ? AND instance_app_id = ? AND instance_id = ? "
        "AND execution_id = ? AND task_id = ?",
        (item.row_id, *item.instance, item.execution_id, item.task_id),
    )
    if cur.rowcount == 0:
        return None
    tx = Tx(conn, now)
    if res.HasField("failureDetails"):
        ev = event(
            now,
            taskFailed=pb.TaskFailedEvent(
                taskScheduledId=item.task_id,
                failureDetails=res.failureDetails,
                taskExecutionId=item.task_execution_id,
            ),
        )
    else:
        ev = event(
            now,
            taskCompleted=pb.TaskCompletedEvent(
                taskScheduledId=item.task_id,
                result=res.result if res.HasField("result") else None,
                taskExecutionId=item.task_execution_id,
            ),
        )
    tx.send(item.instance, ev, execution_id=item.execution_id)
    return tx.effects


def fire_timers(conn: sqlite3.Connection, now: int, limit: int) -> tuple[Effects, int | None]:
    """Move due timers into their instances' inboxes; returns the next due time."""
    tx = Tx(conn, now)
    rows = conn.execute(
        "SELECT id, app_id, instance_id, execution_id, event FROM timers WHERE fire_at <= ? "
        "ORDER BY fire_at LIMIT ?",
        (now, limit),
    ).fetchall()
    for timer_id, app_id, instance_id, execution_id, data in rows:
        ev = pb.HistoryEvent.FromString(data)
        if ev.HasField("timerFired"):
            ev.timestamp.CopyFrom(us_to_ts(now))
        tx.add_inbox((app_id, instance_id), ev, execution_id)
        conn.execute("DELETE FROM timers WHERE id = ?", (timer_id,))
    tx.effects.timers_removed += len(rows)
    return tx.effects, next_timer_due(conn)


def discard_inbox(conn: sqlite3.Connection, ids: list[int]) -> None:
    conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])


# -- reads ----------------------------------------------------------------------------------


def next_timer_due(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MIN(fire_at) FROM timers").fetchone()
    return row[0] if row and row[0] is not None else None


def read_history(conn: sqlite3.Connection, key: Key, from_seq: int = 0) -> list[bytes]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT event FROM history WHERE app_id = ? AND instance_id = ? AND seq >= ? "
            "ORDER BY seq",
            (*key, from_seq),
        )
    ]


def get_instance(conn: sqlite3.Connection, key: Key) -> InstanceRow | None:
    return read_instance(conn, key)


def get_history(conn: sqlite3.Connection, key: Key) -> list[bytes]:
    if read_instance(conn, key) is None:
        raise NotFoundError(f"no such instance exists: '{key[1]}'")
    return read_history(conn, key)


def list_instance_ids(
    conn: sqlite3.Connection, app_id: str, after: str | None, limit: int
) -> tuple[list[str], str | None]:
    rows = conn.execute(
        "SELECT instance_id FROM instances WHERE app_id = ? AND instance_id > ? "
        "ORDER BY instance_id LIMIT ?",
        (app_id, after or "", limit + 1),
    ).fetchall()
    ids = [row[0] for row in rows[:limit]]
    return ids, (ids[-1] if len(rows) > limit else None)


NOT_STARTABLE = "not-startable"


def load_turn(
    conn: sqlite3.Connection, key: Key, warm: int | None, now: int
) -> TurnData | str | None:
    """What the next turn of an instance delivers; ``None`` when there is nothing to run
    and :data:`NOT_STARTABLE` when its events must wait for the run to start."""
    inst = read_instance(conn, key)
    if inst is None or inst.status in TERMINAL_STATUSES:
        return None
    rows = conn.execute(
        "SELECT id, execution_id, event FROM inbox WHERE app_id = ? AND instance_id = ? "
        "ORDER BY id",
        key,
    ).fetchall()
    if not rows:
        return None
    consumed: list[int] = []
    started: list[tuple[int, pb.HistoryEvent]] = []
    others: list[tuple[int, pb.HistoryEvent]] = []
    for row_id, execution_id, data in rows:
        if execution_id is not None and execution_id != inst.execution_id:
            consumed.append(row_id)  # a late result for an execution that has ended
            continue
        ev = pb.HistoryEvent.FromString(data)
        if not ev.HasField("executionStarted"):
            others.append((row_id, ev))
        elif inst.history_len == 0 and not started:
            started.append((row_id, ev))
        else:
            consumed.append(row_id)  # a start for a run that has started
    if inst.history_len == 0 and not started:
        return NOT_STARTABLE
    delivered = _up_to_suspension(started + others)
    consumed.extend(row_id for row_id, _ in delivered)
    past_from = warm if warm is not None and 0 < warm <= inst.history_len else 0
    new_events: list[pb.HistoryEvent] = []
    if delivered:
        new_events.append(event(now, workflowStarted=pb.WorkflowStartedEvent()))
        new_events.extend(ev for _, ev in delivered)
    return TurnData(
        key=key,
        execution_id=inst.execution_id,
        history_len=inst.history_len,
        past_events=read_history(conn, key, past_from) if new_events else [],
        past_from=past_from,
        new_events=new_events,
        inbox_ids=consumed,
    )


def _up_to_suspension(
    events: list[tuple[int, pb.HistoryEvent]],
) -> list[tuple[int, pb.HistoryEvent]]:
    """Events for one turn: a suspension never follows other events in the same turn.

    Work those earlier events cause is recorded after them, which would put it after the
    suspension in history; on replay the SDK buffers everything after a suspension, so
    it would not recognise that work as already scheduled and schedule it again. The
    suspension therefore waits for the next turn, which it starts.
    """
    for index, (_, ev) in enumerate(events):
        if ev.HasField("executionSuspended") and index > 0:
            return events[:index]
    return events


@dataclass
class Recovery:
    ready: list[Key]
    tasks: list[ActivityItem]
    pending_timers: int
    next_timer: int | None


def recover(conn: sqlite3.Connection) -> Recovery:
    """What was durable but not finished when the process stopped."""
    ready = [
        (row[0], row[1])
        for row in conn.execute(
            "SELECT app_id, instance_id, MIN(id) AS first FROM inbox "
            "GROUP BY app_id, instance_id ORDER BY first"
        )
    ]
    tasks: list[ActivityItem] = []
    for row_id, app_id, inst_app, inst_id, execution_id, task_id, data in conn.execute(
        "SELECT id, app_id, instance_app_id, instance_id, execution_id, task_id, request "
        "FROM tasks ORDER BY id"
    ):
        request = pb.ActivityRequest.FromString(data)
        tasks.append(
            ActivityItem(
                row_id,
                app_id,
                (inst_app, inst_id),
                execution_id,
                task_id,
                request.taskExecutionId,
                data,
            )
        )
    (count,) = conn.execute("SELECT COUNT(*) FROM timers").fetchone()
    return Recovery(ready, tasks, count, next_timer_due(conn))
