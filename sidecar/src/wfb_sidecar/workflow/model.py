"""Plain data passed between the store operations and the in-memory scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

from .protos import pb

# (app id, instance id): instances are partitioned by the app that owns them.
Key = tuple[str, str]


class WorkflowError(Exception):
    """An error with the gRPC status the client should see."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(WorkflowError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(WorkflowError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgumentError(WorkflowError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPreconditionError(WorkflowError):
    code = grpc.StatusCode.FAILED_PRECONDITION


@dataclass(slots=True)
class ActivityItem:
    """An activity work item: a row of ``tasks`` waiting for (or running on) a worker."""

    row_id: int
    app_id: str  # the app whose workers run it
    instance: Key  # the workflow instance that scheduled it
    execution_id: str
    task_id: int
    task_execution_id: str
    request: bytes  # a serialized ActivityRequest


@dataclass(slots=True)
class Effects:
    """What a committed write changed, for the scheduler to act on after the commit."""

    ready: set[Key] = field(default_factory=set)  # instances whose inbox got rows
    activities: list[ActivityItem] = field(default_factory=list)  # new activity tasks
    cancelled_tasks: set[int] = field(default_factory=set)  # task rows deleted
    timers_added: int = 0
    timers_removed: int = 0
    earliest_timer: int | None = None  # earliest fire time (µs) of the timers added
    status_changed: set[Key] = field(default_factory=set)  # for long-poll waiters
    reset: set[Key] = field(default_factory=set)  # history replaced or instance removed
    stalled: set[Key] = field(default_factory=set)

    def timer_added(self, fire_at: int) -> None:
        self.timers_added += 1
        if self.earliest_timer is None or fire_at < self.earliest_timer:
            self.earliest_timer = fire_at

    def merge(self, other: Effects) -> None:
        self.ready |= other.ready
        self.activities.extend(other.activities)
        self.cancelled_tasks |= other.cancelled_tasks
        self.timers_added += other.timers_added
        self.timers_removed += other.timers_removed
        if other.earliest_timer is not None:
            self.timer_added(other.earliest_timer)
            self.timers_added -= 1
        self.status_changed |= other.status_changed
        self.reset |= other.reset
        self.stalled |= other.stalled


@dataclass(slots=True)
class InstanceRow:
    app_id: str
    instance_id: str
    execution_id: str
    name: str
    version: str | None
    status: int
    created_at: int
    updated_at: int
    started_at: int | None
    completed_at: int | None
    scheduled_start_at: int | None
    input: str | None
    output: str | None
    custom_status: str | None
    failure: bytes | None
    parent_app_id: str | None
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    start_event: bytes
    history_len: int

    @property
    def key(self) -> Key:
        return (self.app_id, self.instance_id)


INSTANCE_COLUMNS = (
    "app_id, instance_id, execution_id, name, version, status, created_at, updated_at, "
    "started_at, completed_at, scheduled_start_at, input, output, custom_status, failure, "
    "parent_app_id, parent_instance_id, parent_execution_id, parent_task_id, start_event, "
    "history_len"
)


@dataclass(slots=True)
class TurnData:
    """Everything loaded from the store to dispatch one orchestration turn."""

    key: Key
    execution_id: str
    history_len: int
    past_events: list[bytes]  # serialized history, from ``past_from`` on
    past_from: int
    new_events: list[pb.HistoryEvent]  # inbox events, ExecutionStarted first
    inbox_ids: list[int]  # the inbox rows the turn consumes (delivered or stale)


@dataclass(slots=True)
class Turn:
    """An orchestration work item in flight on a worker stream."""

    key: Key
    token: str
    execution_id: str
    history_len: int
    new_events: list[pb.HistoryEvent]
    inbox_ids: list[int]
    stream_id: int
    dispatched_at: float  # monotonic seconds
    deadline: float  # monotonic seconds
    completing: bool = False
