"""The Kubernetes objects of one OCI function run: a Job and its per-run Secret.

Pure functions (no I/O) so the manifests can be asserted in detail. The Job:

- is named deterministically from the execution id, node id and attempt (DNS-1123, at
  most 63 characters, a hash suffix keeps distinct runs distinct), so a re-executed
  activity finds the Job it already started;
- passes ``INPUT`` (JSON), ``EXECUTION_ID``, ``WORKFLOW_ID``, ``NODE_ID``, ``NODE_NAME``
  as environment variables, and credentials only through ``envFrom`` a per-run Secret;
  an input too large for one environment variable is mounted from that Secret as a file
  (``INPUT_FILE``);
- runs restricted: non-root, no privilege escalation, every capability dropped, seccomp
  ``RuntimeDefault``, read-only root filesystem with an ``emptyDir`` at ``/tmp``, no
  service-account token, no service links;
- has requests and limits, ``activeDeadlineSeconds`` = the function's timeout,
  ``backoffLimit: 0`` and ``ttlSecondsAfterFinished``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from function_runner.builtins.base import FunctionError, FunctionRecord
from function_runner.settings import Settings

MANAGED_BY = "function-runner"
CONTAINER_NAME = "function"
LABEL_PREFIX = "workflow-builder.io"
RUN_LABEL = f"{LABEL_PREFIX}/run"
INPUT_FILE_PATH = "/var/run/workflow-builder/input/input.json"
INPUT_SECRET_KEY = "input.json"  # noqa: S105 - a key name, not a secret
RESERVED_ENV = frozenset(
    {
        "INPUT",
        "INPUT_FILE",
        "EXECUTION_ID",
        "WORKFLOW_ID",
        "NODE_ID",
        "NODE_NAME",
        "ATTEMPT",
        "TRACEPARENT",
        "TRACESTATE",
    }
)

MAX_INLINE_INPUT_BYTES = 64 * 1024
"""Linux caps one environment string at 128 KiB; larger inputs go to a mounted file."""
MAX_INPUT_BYTES = 768 * 1024
"""A Secret holds at most 1 MiB; leave room for the credentials."""

_DNS_LABEL_MAX = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class RunIdentity:
    """Who a run is for: the ids every object is named and labelled after."""

    execution_id: str
    workflow_id: str
    node_id: str
    node_name: str
    attempt: int
    trace: Mapping[str, str] = field(default_factory=dict)
    """W3C trace context of the calling span (``traceparent``/``tracestate``), handed to
    the container as ``TRACEPARENT``/``TRACESTATE`` so its spans join the trace."""


@dataclass(frozen=True)
class JobPlan:
    """Everything the executor creates for one run."""

    name: str
    namespace: str
    job: dict[str, Any]
    secret: dict[str, Any] | None
    labels: dict[str, str]


def job_name(execution_id: str, node_id: str, attempt: int) -> str:
    """``wfb-<node>-a<attempt>-<hash>``: DNS-1123, <= 63 chars, same ids -> same name."""
    digest = hashlib.sha256(f"{execution_id}\0{node_id}\0{attempt}".encode()).hexdigest()[:12]
    suffix = f"-a{attempt}-{digest}"
    readable = _NOT_DNS.sub("-", node_id.lower()).strip("-") or "node"
    room = _DNS_LABEL_MAX - len("wfb-") - len(suffix)
    readable = readable[:room].strip("-") or "node"
    return f"wfb-{readable}{suffix}"


def label_value(value: str) -> str:
    """A valid label value (<= 63 chars, alphanumeric ends) that still reads like ``value``."""
    cleaned = _NOT_LABEL.sub("_", value)
    if len(cleaned) > _DNS_LABEL_MAX:
        digest = hashlib.sha256(value.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[: _DNS_LABEL_MAX - 9]}.{digest}"
    return cleaned.strip("_.-")[:_DNS_LABEL_MAX]


def env_name(key: str) -> str:
    """A credential key as an environment variable name (``api-key`` -> ``api_key``)."""
    name = _NOT_ENV.sub("_", key)
    return f"_{name}" if name[:1].isdigit() else name


def run_labels(name: str, function: FunctionRecord, run: RunIdentity) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "oci-function",
        RUN_LABEL: name,
        f"{LABEL_PREFIX}/execution-id": label_value(run.execution_id),
        f"{LABEL_PREFIX}/workflow-id": label_value(run.workflow_id),
        f"{LABEL_PREFIX}/node-id": label_value(run.node_id),
        f"{LABEL_PREFIX}/attempt": str(run.attempt),
        f"{LABEL_PREFIX}/function": label_value(function.slug.replace("/", ".")),
    }


# --- resources ---------------------------------------------------------------------

_SUFFIXES = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def parse_quantity(quantity: str | int | float) -> Decimal:
    """A Kubernetes quantity (``500m``, ``1.5``, ``256Mi``, ``1e3``) as a number."""
    text = str(quantity).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix) and text[: -len(suffix)]:
            number, factor = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, factor = text, Decimal(1)
    try:
        value = Decimal(number) * factor
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    return value


def merge_resources(
    declared: Mapping[str, Any] | None, defaults: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """The function's requests/limits over the defaults, per resource.

    A request above the default limit raises that limit to the request (Kubernetes refuses
    a request greater than its limit); a declared limit below its request is an error.
    """
    declared = declared or {}
    unknown = set(declared) - {"requests", "limits"}
    if unknown:
        raise FunctionError(
            f"resources may only hold 'requests' and 'limits', not {sorted(unknown)}",
            code="validation",
        )
    requests = {**defaults.get("requests", {}), **_quantities(declared.get("requests"))}
    limits = {**defaults.get("limits", {}), **_quantities(declared.get("limits"))}
    declared_limits = _quantities(declared.get("limits"))
    for resource, request in requests.items():
        limit = limits.get(resource)
        if limit is None or parse_quantity(request) <= parse_quantity(limit):
            continue
        if resource in declared_limits:
            raise FunctionError(
                f"resources: the {resource} request {request} is above its limit {limit}",
                code="validation",
            )
        limits[resource] = request
    return {"requests": requests, "limits": limits}


def _quantities(section: Any) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise FunctionError("resources.requests/limits must be objects", code="validation")
    out: dict[str, str] = {}
    for resource, quantity in section.items():
        try:
            parse_quantity(quantity)
        except ValueError as exc:
            raise FunctionError(f"resources: {resource}: {exc}", code="validation") from None
        out[str(resource)] = str(quantity)
    return out


# --- manifests ---------------------------------------------------------------------


def build_plan(
    function: FunctionRecord,
    input: Mapping[str, Any],
    run: RunIdentity,
    credentials: Mapping[str, str],
    settings: Settings,
) -> JobPlan:
    """The Job (and Secret, when there are credentials or a large input) of one run."""
    if not function.image_ref:
        raise FunctionError(f"function {function.slug!r} has no image_ref", code="validation")
    name = job_name(run.execution_id, run.node_id, run.attempt)
    namespace = settings.k8s_namespace
    labels = run_labels(name, function, run)
    input_json = json.dumps(input, separators=(",", ":"), ensure_ascii=False)
    input_size = len(input_json.encode())
    if input_size > MAX_INPUT_BYTES:
        raise FunctionError(
            f"input is {input_size} bytes; an OCI function accepts at most {MAX_INPUT_BYTES}",
            code="validation",
        )
    input_in_file = input_size > MAX_INLINE_INPUT_BYTES
    secret_data = {env_name(key): value for key, value in credentials.items()}
    if input_in_file:
        secret_data[INPUT_SECRET_KEY] = input_json
    secret = _secret(name, namespace, labels, secret_data) if secret_data else None
    env = _env(function, run, None if input_in_file else input_json)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": function.image_ref,
        "imagePullPolicy": settings.oci_image_pull_policy,
        "env": env,
        "resources": merge_resources(function.resources, settings.oci_default_resources),
        "securityContext": _container_security(settings.oci_run_as_user),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - the container's own /tmp
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if function.command:
        container["command"] = list(function.command)
    if function.working_dir:
        container["workingDir"] = function.working_dir
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": settings.oci_tmp_size_limit}}
    ]
    if secret is not None:
        credential_keys = [key for key in secret_data if key != INPUT_SECRET_KEY]
        if credential_keys:
            container["env"] += [
                {
                    "name": key,
                    "valueFrom": {"secretKeyRef": {"name": name, "key": key}},
                }
                for key in credential_keys
            ]
    if input_in_file:
        container["env"].append({"name": "INPUT_FILE", "value": INPUT_FILE_PATH})
        container["volumeMounts"].append(
            {"name": "input", "mountPath": INPUT_FILE_PATH.rsplit("/", 1)[0], "readOnly": True}
        )
        volumes.append(
            {
                "name": "input",
                "secret": {
                    "secretName": name,
                    "items": [{"key": INPUT_SECRET_KEY, "path": INPUT_SECRET_KEY}],
                    "defaultMode": 0o440,
                },
            }
        )
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": _pod_security(settings.oci_run_as_user),
        "containers": [container],
        "volumes": volumes,
    }
    if settings.oci_service_account:
        pod_spec["serviceAccountName"] = settings.oci_service_account
    if settings.oci_image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s} for s in settings.oci_image_pull_secrets]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": _annotations(function, run),
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": max(1, int(function.timeout_seconds)),
            "ttlSecondsAfterFinished": settings.oci_job_ttl_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    return JobPlan(name=name, namespace=namespace, job=job, secret=secret, labels=labels)


def _env(
    function: FunctionRecord, run: RunIdentity, input_json: str | None
) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    for key, value in (function.container_env or {}).items():
        if key in RESERVED_ENV:
            raise FunctionError(
                f"container_env may not set {key!r}: the runner sets it", code="validation"
            )
        env.append({"name": str(key), "value": str(value)})
    if input_json is not None:
        env.append({"name": "INPUT", "value": input_json})
    env += [
        {"name": "EXECUTION_ID", "value": run.execution_id},
        {"name": "WORKFLOW_ID", "value": run.workflow_id},
        {"name": "NODE_ID", "value": run.node_id},
        {"name": "NODE_NAME", "value": run.node_name},
        {"name": "ATTEMPT", "value": str(run.attempt)},
        {"name": "HOME", "value": "/tmp"},  # noqa: S108 - the only writable place
    ]
    env += [
        {"name": key.upper(), "value": value}
        for key, value in run.trace.items()
        if key in ("traceparent", "tracestate")
    ]
    return env


def _annotations(function: FunctionRecord, run: RunIdentity) -> dict[str, str]:
    return {
        f"{LABEL_PREFIX}/execution-id": run.execution_id,
        f"{LABEL_PREFIX}/workflow-id": run.workflow_id,
        f"{LABEL_PREFIX}/node-id": run.node_id,
        f"{LABEL_PREFIX}/node-name": run.node_name,
        f"{LABEL_PREFIX}/function-slug": function.slug,
        f"{LABEL_PREFIX}/function-version": function.version,
    }


def _secret(
    name: str, namespace: str, labels: Mapping[str, str], data: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "type": "Opaque",
        "immutable": False,
        "stringData": dict(data),
    }


def _pod_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
