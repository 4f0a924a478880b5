"""The durabletask wire types, taken from the generated modules that ship in the Dapr SDK.

The sidecar serves exactly the protocol the pinned SDK speaks, so it uses the SDK's own
generated protobuf modules rather than a second copy of the same ``.proto`` files (two
copies of those unpackaged definitions cannot even be loaded into one process). SDK 1.18
speaks a wire-compatible subset of the same messages; see the README for how both
versions are checked.
"""

from __future__ import annotations

import time
import traceback

from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc
from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf import empty_pb2, timestamp_pb2, wrappers_pb2

__all__ = [
    "NEVER_US",
    "TERMINAL_STATUSES",
    "empty_pb2",
    "failure",
    "now_us",
    "pb",
    "pb_grpc",
    "string_value",
    "timestamp_pb2",
    "ts_to_us",
    "us_to_ts",
    "wrappers_pb2",
]

RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
CONTINUED_AS_NEW = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
FAILED = pb.ORCHESTRATION_STATUS_FAILED
CANCELED = pb.ORCHESTRATION_STATUS_CANCELED
TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
PENDING = pb.ORCHESTRATION_STATUS_PENDING
SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED
STALLED = pb.ORCHESTRATION_STATUS_STALLED

TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED, TERMINATED})

# The SDK marks an indefinite ``wait_for_external_event`` with a timer at
# 9999-12-31T23:59:59.999999999Z. Such a timer is recorded in history but never scheduled.
# Times are kept as integer microseconds since the epoch: that date is at the very edge of
# what Python's datetime can hold, and integers compare and index cheaply.
_LAST_SECOND_OF_9999 = 253402300799
NEVER_US = _LAST_SECOND_OF_9999 * 1_000_000


def now_us() -> int:
    return time.time_ns() // 1000


def ts_to_us(ts: timestamp_pb2.Timestamp) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


def us_to_ts(us: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=us // 1_000_000, nanos=(us % 1_000_000) * 1000)


def is_never(ts: timestamp_pb2.Timestamp) -> bool:
    """Whether a timer's fire time means "never" (an indefinite wait)."""
    return int(ts.seconds) >= _LAST_SECOND_OF_9999


def string_value(value: str | None) -> wrappers_pb2.StringValue | None:
    return None if value is None else wrappers_pb2.StringValue(value=value)


def failure(
    error_type: str, message: str, *, exc: BaseException | None = None
) -> pb.TaskFailureDetails:
    details = pb.TaskFailureDetails(errorType=error_type, errorMessage=message)
    if exc is not None:
        details.stackTrace.value = "".join(traceback.format_exception(exc))
    return details


def status_name(status: int) -> str:
    name = str(pb.OrchestrationStatus.Name(status))
    return name.removeprefix("ORCHESTRATION_STATUS_")
