"""Reading a run's state from its Job and Pod objects (plain dicts, as the API serves them).

:func:`assess` turns the latest Job and Pods into a :class:`Verdict`: still running,
succeeded (and on which pod), or failed with a clear reason: the image cannot be pulled,
the container was OOM-killed, the Job hit its deadline, the process exited non-zero, the
pod was evicted or could not be scheduled. :func:`last_json_line` finds the result in the
container's output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from function_runner.builtins.base import ErrorCode
from function_runner.executors.oci_spec import CONTAINER_NAME

IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
CONFIG_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
_AUTH_HINTS = ("unauthorized", "denied", "authentication required", "forbidden")


@dataclass(frozen=True)
class Verdict:
    state: Literal["running", "succeeded", "failed"]
    pod_name: str | None = None
    code: ErrorCode = "internal"
    reason: str | None = None
    message: str = ""
    retryable: bool = False
    wants_logs: bool = False
    """Whether the container ran, so its output helps explain the failure."""
    unschedulable: str | None = None
    """Set while the pod is pending because no node fits (the scheduler's message)."""
    from_job: bool = False
    """Decided from the Job alone: the pods' latest state may explain it better."""
    details: dict[str, Any] = field(default_factory=dict)


RUNNING = Verdict("running")


def assess(job: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]]) -> Verdict:
    """The state of a run from its Job and Pods."""
    pods = sorted(pods, key=lambda p: str(_meta(p).get("creationTimestamp") or ""))
    condition = job_condition(job)
    if condition is not None and condition[:2] == ("failed", "DeadlineExceeded"):
        return _job_failure(job or {}, condition[1], condition[2], pods)
    for pod in pods:
        failure = pod_failure(pod)
        if failure is not None:
            return failure
    if condition is not None:
        kind, reason, message = condition
        if kind == "failed":
            return _job_failure(job or {}, reason, message, pods)
        done = next((p for p in pods if _status(p).get("phase") == "Succeeded"), None)
        return Verdict("succeeded", pod_name=_name(done) if done else None)
    for pod in pods:
        if _status(pod).get("phase") == "Succeeded":
            return Verdict("succeeded", pod_name=_name(pod))
    for pod in pods:
        unschedulable = unschedulable_message(pod)
        if unschedulable is not None:
            return Verdict("running", pod_name=_name(pod), unschedulable=unschedulable)
    return RUNNING


def job_condition(job: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    """``("complete"|"failed", reason, message)`` once the Job has finished."""
    if not job:
        return None
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        kind = condition.get("type")
        if kind in ("Failed", "FailureTarget"):
            return "failed", condition.get("reason") or "", condition.get("message") or ""
        if kind in ("Complete", "SuccessCriteriaMet"):
            return "complete", condition.get("reason") or "", condition.get("message") or ""
    return None


def pod_failure(pod: Mapping[str, Any]) -> Verdict | None:
    """Why this pod can no longer succeed, or ``None``."""
    status = _status(pod)
    name = _name(pod)
    container = _container_status(pod)
    waiting = (container or {}).get("state", {}).get("waiting") or {}
    terminated = (container or {}).get("state", {}).get("terminated") or {}
    waiting_reason = waiting.get("reason") or ""
    if waiting_reason in IMAGE_PULL_REASONS or waiting_reason == "ErrImageNeverPull":
        return _image_failure(name, container or {}, waiting_reason, waiting.get("message") or "")
    if waiting_reason in CONFIG_REASONS:
        return Verdict(
            "failed",
            pod_name=name,
            code="validation",
            reason=waiting_reason,
            message=f"the container could not be created ({waiting_reason}): "
            f"{waiting.get('message') or 'no details'}",
        )
    if status.get("reason") == "Evicted" or (
        status.get("phase") == "Failed" and not terminated and status.get("reason")
    ):
        reason = status.get("reason") or "Failed"
        return Verdict(
            "failed",
            pod_name=name,
            code="upstream",
            reason=reason,
            retryable=reason == "Evicted",
            message=f"the pod was {'evicted' if reason == 'Evicted' else 'stopped'} "
            f"({reason}): {status.get('message') or 'no details'}",
        )
    if terminated:
        return _terminated_failure(name, terminated)
    return None


def _terminated_failure(name: str | None, terminated: Mapping[str, Any]) -> Verdict | None:
    exit_code = terminated.get("exitCode")
    reason = terminated.get("reason") or ""
    if reason == "OOMKilled":
        return Verdict(
            "failed",
            pod_name=name,
            code="upstream",
            reason="OOMKilled",
            wants_logs=True,
            message="the container ran out of memory (OOMKilled); raise its memory limit",
            details={"exitCode": exit_code},
        )
    if exit_code not in (None, 0):
        return Verdict(
            "failed",
            pod_name=name,
            code="upstream",
            reason=reason or "Error",
            wants_logs=True,
            message=f"the container exited with code {exit_code}",
            details={"exitCode": exit_code},
        )
    return None


def _image_failure(
    name: str | None, container: Mapping[str, Any], reason: str, message: str
) -> Verdict:
    image = container.get("image") or "the image"
    code: ErrorCode
    if reason in ("InvalidImageName", "ErrImageNeverPull"):
        code = "validation"
    elif any(hint in message.lower() for hint in _AUTH_HINTS):
        code = "forbidden"
    else:
        code = "not_found"
    return Verdict(
        "failed",
        pod_name=name,
        code=code,
        reason=reason,
        message=f"image {image!r} could not be pulled ({reason}): {message or 'no details'}",
    )


def _job_failure(
    job: Mapping[str, Any], reason: str, message: str, pods: list[Mapping[str, Any]]
) -> Verdict:
    pod_name = _name(pods[-1]) if pods else None
    if reason == "DeadlineExceeded":
        deadline = job.get("spec", {}).get("activeDeadlineSeconds")
        return Verdict(
            "failed",
            pod_name=pod_name,
            code="timeout",
            reason=reason,
            wants_logs=bool(pods),
            message=f"the job exceeded its deadline of {deadline} s (DeadlineExceeded)",
        )
    return Verdict(
        "failed",
        pod_name=pod_name,
        code="upstream",
        reason=reason or "Failed",
        from_job=True,
        wants_logs=bool(pods),
        message=f"the job failed ({reason or 'Failed'}): {message or 'no details'}",
    )


def unschedulable_message(pod: Mapping[str, Any]) -> str | None:
    status = _status(pod)
    if status.get("phase") not in (None, "Pending"):
        return None
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return str(condition.get("message") or "no node fits the pod")
    return None


def last_json_line(output: str) -> tuple[bool, Any]:
    """``(True, value)`` for the last line of ``output`` that is JSON, else ``(False, None)``."""
    for line in reversed(output.splitlines()):
        text = line.strip()
        if not text:
            continue
        try:
            return True, json.loads(text)
        except ValueError:
            continue
    return False, None


def log_tail(output: str, lines: int = 20, max_chars: int = 4000) -> str:
    tail = "\n".join(output.rstrip("\n").splitlines()[-lines:])
    return tail[-max_chars:]


def _container_status(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in _status(pod).get("containerStatuses") or []:
        if status.get("name") == CONTAINER_NAME:
            return status  # type: ignore[no-any-return]
    return None


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _name(obj: Mapping[str, Any] | None) -> str | None:
    return None if obj is None else _meta(obj).get("name")
