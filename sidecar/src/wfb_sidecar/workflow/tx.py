"""Row-level writes used by every store operation, run on the writer thread.

A :class:`Tx` wraps the writer connection for one operation and records what changed in
an :class:`Effects`, which the scheduler applies once the batch holding the operation
has committed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import fields

from .model import INSTANCE_COLUMNS, ActivityItem, AlreadyExistsError, Effects, InstanceRow, Key
from .protos import (
    COMPLETED,
    FAILED,
    PENDING,
    TERMINAL_STATUSES,
    TERMINATED,
    failure,
    pb,
    status_name,
    string_value,
    us_to_ts,
)

_ROW_FIELDS = [f.name for f in fields(InstanceRow)]


def new_execution_id() -> str:
    return uuid.uuid4().hex


def event(now: int, **payload: object) -> pb.HistoryEvent:
    """A history event stamped ``now`` with no event id (ids are for scheduled work)."""
    return pb.HistoryEvent(eventId=-1, timestamp=us_to_ts(now), **payload)  # type: ignore[arg-type]


def parent_info(parent: InstanceRow, task_id: int) -> pb.ParentInstanceInfo:
    """What a child's ExecutionStarted says about the parent that created it."""
    return pb.ParentInstanceInfo(
        taskScheduledId=task_id,
        name=string_value(parent.name),
        version=string_value(parent.version),
        workflowInstance=pb.WorkflowInstance(
            instanceId=parent.instance_id, executionId=string_value(parent.execution_id)
        ),
        appID=parent.app_id,
    )


def read_instance(conn: sqlite3.Connection, key: Key) -> InstanceRow | None:
    row = conn.execute(
        f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE app_id = ? AND instance_id = ?",  # noqa: S608 - a constant column list
        key,
    ).fetchone()
    return InstanceRow(*row) if row else None


class Tx:
    def __init__(self, conn: sqlite3.Connection, now: int) -> None:
        self.conn = conn
        self.now = now
        self.effects = Effects()

    # -- reads -----------------------------------------------------------------------

    def instance(self, key: Key) -> InstanceRow | None:
        return read_instance(self.conn, key)

    def children(self, key: Key) -> list[InstanceRow]:
        rows = self.conn.execute(
            f"SELECT {INSTANCE_COLUMNS} FROM instances "  # noqa: S608 - a constant column list
            "WHERE parent_app_id = ? AND parent_instance_id = ?",
            key,
        ).fetchall()
        return [InstanceRow(*row) for row in rows]

    # -- inbox, history, tasks, timers -------------------------------------------------

    def add_inbox(self, key: Key, ev: pb.HistoryEvent, execution_id: str | None) -> None:
        self.conn.execute(
            "INSERT INTO inbox (app_id, instance_id, execution_id, event) VALUES (?, ?, ?, ?)",
            (key[0], key[1], execution_id, ev.SerializeToString()),
        )
        self.effects.ready.add(key)

    def add_inbox_raw(self, key: Key, data: bytes, execution_id: str | None) -> None:
        self.conn.execute(
            "INSERT INTO inbox (app_id, instance_id, execution_id, event) VALUES (?, ?, ?, ?)",
            (key[0], key[1], execution_id, data),
        )
        self.effects.ready.add(key)

    def send(self, key: Key, ev: pb.HistoryEvent, *, execution_id: str | None = None) -> bool:
        """Deliver an event to a live instance (of the given execution, if named)."""
        target = self.instance(key)
        if target is None or target.status in TERMINAL_STATUSES:
            return False
        if execution_id is not None and target.execution_id != execution_id:
            return False
        self.add_inbox(key, ev, execution_id)
        return True

    def append_history(self, key: Key, first_seq: int, events: Iterable[bytes]) -> int:
        rows = [(key[0], key[1], first_seq + i, data) for i, data in enumerate(events)]
        self.conn.executemany(
            "INSERT INTO history (app_id, instance_id, seq, event) VALUES (?, ?, ?, ?)", rows
        )
        return len(rows)

    def add_task(
        self,
        app_id: str,
        instance: Key,
        execution_id: str,
        task_id: int,
        task_execution_id: str,
        request: pb.ActivityRequest,
    ) -> None:
        data = request.SerializeToString()
        cur = self.conn.execute(
            "INSERT INTO tasks (app_id, instance_app_id, instance_id, execution_id, task_id, "
            "request) VALUES (?, ?, ?, ?, ?, ?)",
            (app_id, instance[0], instance[1], execution_id, task_id, data),
        )
        assert cur.lastrowid is not None
        self.effects.activities.append(
            ActivityItem(
                cur.lastrowid, app_id, instance, execution_id, task_id, task_execution_id, data
            )
        )

    def add_timer(
        self, key: Key, execution_id: str | None, fire_at: int, ev: pb.HistoryEvent
    ) -> None:
        self.conn.execute(
            "INSERT INTO timers (app_id, instance_id, execution_id, fire_at, event) "
            "VALUES (?, ?, ?, ?, ?)",
            (key[0], key[1], execution_id, fire_at, ev.SerializeToString()),
        )
        self.effects.timer_added(fire_at)

    def drop_pending_work(self, key: Key) -> None:
        """Forget the instance's activity tasks and timers (its execution ended)."""
        ids = self.conn.execute(
            "SELECT id FROM tasks WHERE instance_app_id = ? AND instance_id = ?", key
        ).fetchall()
        if ids:
            self.conn.execute(
                "DELETE FROM tasks WHERE instance_app_id = ? AND instance_id = ?", key
            )
            self.effects.cancelled_tasks.update(row[0] for row in ids)
        cur = self.conn.execute("DELETE FROM timers WHERE app_id = ? AND instance_id = ?", key)
        self.effects.timers_removed += cur.rowcount

    def drop_inbox(self, key: Key) -> None:
        self.conn.execute("DELETE FROM inbox WHERE app_id = ? AND instance_id = ?", key)

    def consume_inbox(self, key: Key, ids: list[int]) -> None:
        """Delete the rows a turn consumed; if others are left, the instance has more to do."""
        self.conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])
        left = self.conn.execute(
            "SELECT 1 FROM inbox WHERE app_id = ? AND instance_id = ? LIMIT 1", key
        ).fetchone()
        if left is not None:
            self.effects.ready.add(key)

    def clear(self, key: Key) -> None:
        """Remove everything stored for an instance except its row."""
        self.drop_pending_work(key)
        self.drop_inbox(key)
        self.conn.execute("DELETE FROM history WHERE app_id = ? AND instance_id = ?", key)
        self.effects.reset.add(key)

    def delete_instance(self, key: Key) -> None:
        self.clear(key)
        self.conn.execute("DELETE FROM instances WHERE app_id = ? AND instance_id = ?", key)
        self.effects.status_changed.add(key)

    # -- instance lifecycle --------------------------------------------------------------

    def create_instance(
        self,
        key: Key,
        *,
        name: str,
        version: str | None,
        input: str | None,
        scheduled_start_at: int | None = None,
        tags: dict[str, str] | None = None,
        parent: pb.ParentInstanceInfo | None = None,
        parent_key: Key | None = None,
        trace_context: pb.TraceContext | None = None,
        execution_id: str | None = None,
    ) -> InstanceRow:
        """Create (or re-create a finished) instance, with its ExecutionStarted queued."""
        existing = self.instance(key)
        if existing is not None:
            if existing.status not in TERMINAL_STATUSES:
                raise AlreadyExistsError(
                    f"an instance with ID '{key[1]}' already exists and is "
                    f"{_status_word(existing.status)}"
                )
            self.clear(key)
        execution_id = execution_id or new_execution_id()
        started = pb.ExecutionStartedEvent(
            name=name,
            version=string_value(version),
            input=string_value(input),
            workflowInstance=pb.WorkflowInstance(
                instanceId=key[1], executionId=string_value(execution_id)
            ),
            parentInstance=parent,
            scheduledStartTimestamp=(
                us_to_ts(scheduled_start_at) if scheduled_start_at is not None else None
            ),
            parentTraceContext=trace_context,
            tags=tags or {},
        )
        start = event(self.now, executionStarted=started, router=pb.TaskRouter(sourceAppID=key[0]))
        row = InstanceRow(
            app_id=key[0],
            instance_id=key[1],
            execution_id=execution_id,
            name=name,
            version=version,
            status=PENDING,
            created_at=self.now,
            updated_at=self.now,
            started_at=None,
            completed_at=None,
            scheduled_start_at=scheduled_start_at,
            input=input,
            output=None,
            custom_status=None,
            failure=None,
            parent_app_id=parent_key[0] if parent_key else None,
            parent_instance_id=parent_key[1] if parent_key else None,
            parent_execution_id=(
                parent.workflowInstance.executionId.value if parent is not None else None
            ),
            parent_task_id=parent.taskScheduledId if parent is not None else None,
            start_event=start.SerializeToString(),
            history_len=0,
        )
        self.insert_instance(row)
        if scheduled_start_at is not None and scheduled_start_at > self.now:
            self.add_timer(key, execution_id, scheduled_start_at, start)
        else:
            self.add_inbox(key, start, execution_id)
        self.effects.status_changed.add(key)
        self.effects.reset.add(key)
        return row

    def insert_instance(self, row: InstanceRow) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO instances ({INSTANCE_COLUMNS}) "  # noqa: S608 - constant
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(getattr(row, name) for name in _ROW_FIELDS),
        )

    def set_status(self, key: Key, status: int) -> None:
        self.conn.execute(
            "UPDATE instances SET status = ?, updated_at = ? WHERE app_id = ? AND instance_id = ?",
            (status, self.now, *key),
        )
        self.effects.status_changed.add(key)

    def finish(
        self,
        inst: InstanceRow,
        status: int,
        *,
        output: str | None,
        failure_details: pb.TaskFailureDetails | None,
        custom_status: str | None,
        history_len: int,
        recurse_terminate: bool = False,
    ) -> None:
        """Record a finished execution and tell whoever depends on it."""
        key = inst.key
        self.conn.execute(
            "UPDATE instances SET status = ?, output = ?, failure = ?, custom_status = ?, "
            "history_len = ?, updated_at = ?, completed_at = ?, "
            "started_at = COALESCE(started_at, ?) WHERE app_id = ? AND instance_id = ?",
            (
                status,
                output,
                failure_details.SerializeToString() if failure_details is not None else None,
                custom_status,
                history_len,
                self.now,
                self.now,
                self.now,
                *key,
            ),
        )
        self.effects.status_changed.add(key)
        self.effects.reset.add(key)
        self.drop_pending_work(key)
        self.drop_inbox(key)
        self.notify_parent(inst, status, output, failure_details)
        if recurse_terminate:
            self.terminate_children(key, output)

    def notify_parent(
        self,
        child: InstanceRow,
        status: int,
        output: str | None,
        failure_details: pb.TaskFailureDetails | None,
    ) -> None:
        if child.parent_instance_id is None or child.parent_app_id is None:
            return
        task_id = child.parent_task_id or 0
        if status == COMPLETED:
            ev = event(
                self.now,
                childWorkflowInstanceCompleted=pb.ChildWorkflowInstanceCompletedEvent(
                    taskScheduledId=task_id, result=string_value(output)
                ),
            )
        else:
            if failure_details is None or status != FAILED:
                failure_details = failure(
                    "WorkflowTerminated" if status == TERMINATED else "WorkflowFailed",
                    f"child workflow '{child.instance_id}' was {_status_word(status)}",
                )
            ev = event(
                self.now,
                childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                    taskScheduledId=task_id, failureDetails=failure_details
                ),
            )
        self.send(
            (child.parent_app_id, child.parent_instance_id),
            ev,
            execution_id=child.parent_execution_id,
        )

    def terminate_children(self, key: Key, output: str | None) -> None:
        for child in self.children(key):
            if child.status in TERMINAL_STATUSES:
                continue
            self.add_inbox(
                child.key,
                event(
                    self.now,
                    executionTerminated=pb.ExecutionTerminatedEvent(
                        input=string_value(output), recurse=True
                    ),
                ),
                None,
            )


def _status_word(status: int) -> str:
    return status_name(status).lower().replace("_", " ")
