"""Jobs as the sidecar keeps them, and their conversions to and from Dapr's shapes.

A job's ``data`` is a protobuf ``Any`` (type URL + bytes), as Dapr stores it: the HTTP
API wraps the JSON ``data`` in a ``google.protobuf.Value``; gRPC callers pass any
``Any``. Delivery to an HTTP app sends the JSON of a ``Value`` and the raw bytes of any
other type, as daprd's HTTP app channel does.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import grpc
from google.protobuf import json_format, struct_pb2

from wfb_sidecar import errors
from wfb_sidecar.durations import parse_go_duration
from wfb_sidecar.jobs.schedule import (
    Every,
    Schedule,
    ScheduleError,
    parse_point_in_time,
    parse_schedule,
)

VALUE_TYPE = "type.googleapis.com/google.protobuf.Value"
MAX_UINT32 = 2**32 - 1


@dataclass(frozen=True)
class FailurePolicy:
    """``drop`` (no retry) or ``constant`` (retry every ``interval_s``, at most
    ``max_retries`` times; None retries forever)."""

    kind: Literal["drop", "constant"]
    interval_s: float = 0.0
    max_retries: int | None = None

    def may_retry(self, failed_attempts: int) -> bool:
        if self.kind == "drop":
            return False
        return self.max_retries is None or failed_attempts <= self.max_retries

    def to_json(self) -> dict[str, Any]:
        """Dapr's JSON (protojson) form."""
        if self.kind == "drop":
            return {"drop": {}}
        constant: dict[str, Any] = {"interval": duration_text(self.interval_s)}
        if self.max_retries is not None:
            constant["maxRetries"] = self.max_retries
        return {"constant": constant}


# Dapr's default when a job has no failure policy: 3 retries, one second apart.
DEFAULT_POLICY = FailurePolicy("constant", 1.0, 3)


def duration_text(seconds: float) -> str:
    """protojson's Duration format: ``1s``, ``0.500s``."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0") + "s"


@dataclass
class JobSpec:
    """What a caller asked for (HTTP or gRPC), before validation."""

    name: str
    schedule: str | None = None
    repeats: int | None = None
    due_time: str | None = None
    ttl: str | None = None
    data_type: str = ""
    data: bytes = b""
    policy: FailurePolicy | None = None


@dataclass
class Job:
    app_id: str
    name: str
    schedule: str | None
    repeats: int | None
    due_time: str | None
    ttl: str | None
    data_type: str
    data: bytes
    policy: FailurePolicy
    created_at: float
    expires_at: float | None
    tick_at: float | None  # the occurrence being delivered; None when nothing is left
    attempt_at: float | None  # when to (re)try delivering it
    count: int = 0  # occurrences finished (delivered or given up)
    attempts: int = 0  # failed attempts at the current occurrence
    parsed: Schedule | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.app_id, self.name)

    def next_tick(self, now: float) -> float | None:
        """The occurrence after the current one, skipping those already past (a job
        that was overdue fires once, not once per missed occurrence)."""
        if self.parsed is None or self.tick_at is None:
            return None
        if self.repeats is not None and self.count >= self.repeats:
            return None
        base = max(self.tick_at, now)
        if isinstance(self.parsed, Every):
            steps = math.floor((base - self.tick_at) / self.parsed.interval_s) + 1
            following: float | None = self.tick_at + steps * self.parsed.interval_s
        else:
            following = self.parsed.next_after(base)
        if following is None or (self.expires_at is not None and following > self.expires_at):
            return None
        return following


def scheduler_error(code: str, message: str, status: int = 400) -> errors.DaprError:
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT if status == 400 else grpc.StatusCode.INTERNAL
    return errors.DaprError(code, message, http_status=status, grpc_code=grpc_code, reason=code)


def invalid(reason: str) -> errors.DaprError:
    """A job the scheduler refuses. daprd answers 500 here (the scheduler's refusal is
    wrapped as an internal error); the local sidecar answers 400, the caller's fault."""
    return scheduler_error(
        "DAPR_SCHEDULER_SCHEDULE_JOB", f"failed to schedule job due to: {reason}"
    )


def check_name(name: str) -> None:
    if not name.strip() or "|" in name:
        raise scheduler_error("DAPR_SCHEDULER_JOB_NAME_EMPTY", "Name is empty")


def build_job(app_id: str, spec: JobSpec, now: float) -> Job:
    """Validate a spec and compute its first occurrence (raises DaprError)."""
    check_name(spec.name)
    if spec.schedule is None and spec.due_time is None:
        raise scheduler_error("DAPR_SCHEDULER_SCHEDULE_EMPTY", "Schedule is empty")
    if spec.repeats is not None and not 0 <= spec.repeats <= MAX_UINT32:
        raise invalid(f"repeats must be between 0 and {MAX_UINT32}")
    try:
        parsed = parse_schedule(spec.schedule) if spec.schedule is not None else None
        first = parse_point_in_time(spec.due_time, now, "dueTime") if spec.due_time else None
        expires = parse_point_in_time(spec.ttl, now, "ttl") if spec.ttl else None
    except ScheduleError as exc:
        raise invalid(str(exc)) from None
    if parsed is not None and spec.repeats == 0:
        raise invalid("repeats must be greater than 0 when a schedule is given")
    if first is None:
        assert parsed is not None
        first = now + parsed.interval_s if isinstance(parsed, Every) else parsed.next_after(now)
        if first is None:
            raise invalid(f"schedule {spec.schedule!r} never fires")
    if expires is not None and expires < max(first, now):
        raise invalid("ttl must not end before the job's first trigger")
    return Job(
        app_id=app_id,
        name=spec.name,
        schedule=spec.schedule,
        repeats=spec.repeats,
        due_time=spec.due_time,
        ttl=spec.ttl,
        data_type=spec.data_type,
        data=spec.data,
        policy=spec.policy or DEFAULT_POLICY,
        created_at=now,
        expires_at=expires,
        tick_at=first,
        attempt_at=first,
        parsed=parsed,
    )


def reparse(job: Job) -> Job:
    """A job loaded from disk gets its parsed schedule back."""
    if job.schedule is None:
        return job
    return replace(job, parsed=parse_schedule(job.schedule))


# -- data ------------------------------------------------------------------------------


def _go_numbers(value: Any) -> Any:
    """A ``Value``'s numbers are doubles; write integral ones without ``.0`` as Go does."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def json_to_data(value: Any) -> tuple[str, bytes]:
    """The HTTP API's JSON ``data`` -> an ``Any`` holding a ``google.protobuf.Value``."""
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return VALUE_TYPE, message.SerializeToString()


def data_json(data_type: str, data: bytes) -> Any:
    """The JSON value of a ``Value`` payload."""
    message = struct_pb2.Value()
    message.ParseFromString(data)
    return _go_numbers(json_format.MessageToDict(message))


def delivery_body(job: Job) -> bytes:
    """What daprd POSTs to ``/job/<name>``: a Value as JSON, other types' raw bytes."""
    if job.data_type == VALUE_TYPE:
        return json.dumps(data_json(job.data_type, job.data), separators=(",", ":")).encode()
    return job.data.strip()


def job_json(job: Job) -> dict[str, Any]:
    """``GET /v1.0-alpha1/jobs/<name>``: the job as protojson renders Dapr's Job."""
    doc: dict[str, Any] = {"name": job.name}
    if job.schedule is not None:
        doc["schedule"] = job.schedule
    if job.repeats is not None:
        doc["repeats"] = job.repeats
    if job.due_time is not None:
        doc["dueTime"] = job.due_time
    if job.ttl is not None:
        doc["ttl"] = job.ttl
    if job.data_type == VALUE_TYPE:
        doc["data"] = {"@type": VALUE_TYPE, "value": data_json(job.data_type, job.data)}
    elif job.data_type or job.data:
        doc["data"] = {"@type": job.data_type, "value": base64.b64encode(job.data).decode()}
    doc["failurePolicy"] = job.policy.to_json()
    return doc


def parse_policy_json(value: Any) -> FailurePolicy:
    """``{"drop": {}}`` or ``{"constant": {"interval": "5s", "maxRetries": 3}}``."""
    if not isinstance(value, dict) or len(value) != 1:
        raise invalid('failurePolicy must be {"drop": {}} or {"constant": {...}}')
    kind, body = next(iter(value.items()))
    if kind == "drop":
        return FailurePolicy("drop")
    if kind != "constant" or not isinstance(body, dict):
        raise invalid(f"unknown failure policy {kind!r} (drop or constant)")
    unknown = set(body) - {"interval", "maxRetries", "max_retries"}
    if unknown:
        raise invalid(f"unknown constant failure policy field(s): {', '.join(sorted(unknown))}")
    interval = body.get("interval", "0s")
    retries = body.get("maxRetries", body.get("max_retries"))
    try:
        interval_s = parse_go_duration(str(interval))
    except ValueError as exc:
        raise invalid(f"failurePolicy interval: {exc}") from None
    if retries is not None and (
        isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_UINT32
    ):
        raise invalid("failurePolicy maxRetries must be a non-negative integer")
    return FailurePolicy("constant", interval_s, retries)
