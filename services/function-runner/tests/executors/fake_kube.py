"""A stateful fake of the Kubernetes API, served over HTTP on loopback.

It stores Jobs, Secrets and Pods, assigns resource versions, serves lists and watch
streams (with bookmarks and ``410 Gone`` when a watch starts from a compacted version),
pod logs, and owner-reference garbage collection on ``propagationPolicy: Background``.
Like the Job controller, it creates one Pod for every new Job; the test then drives that
Pod (scheduled, running, terminated, evicted, image pull errors...) through the fake's
Python methods, or lets a *scenario* coroutine do it when the Job appears.

Requests must carry ``Authorization: Bearer <token>``; a kubeconfig pointing here is
written by :meth:`FakeKube.write_kubeconfig`, so the executor loads its configuration the
way it does against a real cluster.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

Scenario = Callable[["FakeKube", dict[str, Any]], Awaitable[None]]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status(code: int, reason: str, message: str) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return JSONResponse(body, status_code=code)


@dataclass
class Event:
    version: int
    kind: str
    namespace: str
    type: str
    obj: dict[str, Any]


@dataclass
class FakeKube:
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    version: int = 1000
    compacted_below: int = 0
    expirations: int = 0
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    scenario: Scenario | None = None
    watch_requests: int = 0
    list_requests: int = 0
    job_creates: int = 0
    create_pods: bool = True
    url: str = ""
    closing: bool = False
    _changed: asyncio.Condition | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # --- state helpers the tests use ---------------------------------------------------

    @property
    def changed(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for (k, _, _), obj in self.objects.items() if k == kind]

    def pods_of(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        uid = job["metadata"]["uid"]
        return [
            p
            for p in self.all("pods")
            if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences", []))
        ]

    async def wait_for(self, predicate: Callable[[], Any], within: float = 10.0) -> Any:
        async with asyncio.timeout(within):
            async with self.changed:
                while not (result := predicate()):
                    await self.changed.wait()
                return result

    async def wait_for_job(self, within: float = 10.0) -> dict[str, Any]:
        jobs: list[dict[str, Any]] = await self.wait_for(lambda: self.all("jobs"), within)
        return jobs[0]

    async def put(self, kind: str, obj: dict[str, Any], event: str = "MODIFIED") -> None:
        meta = obj["metadata"]
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        self.objects[(kind, meta["namespace"], meta["name"])] = obj
        await self._emit(kind, meta["namespace"], event, obj)

    async def remove(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.pop((kind, namespace, name), None)
        if obj is None:
            return None
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        obj["metadata"].setdefault("deletionTimestamp", _now())
        await self._emit(kind, namespace, "DELETED", obj)
        uid = obj["metadata"].get("uid")
        for (k, ns, n), child in list(self.objects.items()):
            owners = child["metadata"].get("ownerReferences") or []
            if ns == namespace and any(o.get("uid") == uid for o in owners):
                await self.remove(k, ns, n)
        return obj

    async def _emit(self, kind: str, namespace: str, type_: str, obj: dict[str, Any]) -> None:
        self.events.append(Event(self.version, kind, namespace, type_, copy.deepcopy(obj)))
        async with self.changed:
            self.changed.notify_all()

    async def expire_watches(self) -> None:
        """Compact history: open watches get ``410 Gone`` and must re-list."""
        self.compacted_below = self.version + 1
        self.version += 1
        self.expirations += 1
        async with self.changed:
            self.changed.notify_all()

    # --- pod and job transitions (what kubelet and the job controller would do) -------

    async def set_pod(self, pod: dict[str, Any], **status: Any) -> dict[str, Any]:
        current = self.objects[("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])]
        current = copy.deepcopy(current)
        current["status"] = {**current.get("status", {}), **status}
        await self.put("pods", current)
        return current

    async def pod_running(self, pod: dict[str, Any]) -> dict[str, Any]:
        image = pod["spec"]["containers"][0]["image"]
        return await self.set_pod(
            pod,
            phase="Running",
            startTime=_now(),
            conditions=[{"type": "PodScheduled", "status": "True"}],
            containerStatuses=[
                {
                    "name": "function",
                    "image": image,
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": _now()}},
                }
            ],
        )

    async def pod_waiting(self, pod: dict[str, Any], reason: str, message: str) -> None:
        image = pod["spec"]["containers"][0]["image"]
        await self.set_pod(
            pod,
            phase="Pending",
            containerStatuses=[
                {
                    "name": "function",
                    "image": image,
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}},
                }
            ],
        )

    async def pod_unschedulable(self, pod: dict[str, Any], message: str) -> None:
        await self.set_pod(
            pod,
            phase="Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                }
            ],
        )

    async def pod_terminated(
        self,
        pod: dict[str, Any],
        *,
        exit_code: int,
        logs: str = "",
        reason: str | None = None,
        finish_job: bool = True,
    ) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.logs[(ns, name)] = logs
        await self.pod_running(pod)
        image = pod["spec"]["containers"][0]["image"]
        await self.set_pod(
            pod,
            phase="Succeeded" if exit_code == 0 else "Failed",
            containerStatuses=[
                {
                    "name": "function",
                    "image": image,
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                            "finishedAt": _now(),
                        }
                    },
                }
            ],
        )
        if finish_job:
            job = self._owner_job(pod)
            if exit_code == 0:
                await self.job_condition(job, "Complete", "", "", succeeded=1)
            else:
                await self.job_condition(
                    job,
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    failed=1,
                )

    async def pod_evicted(self, pod: dict[str, Any], message: str) -> None:
        await self.set_pod(pod, phase="Failed", reason="Evicted", message=message)

    async def job_condition(
        self, job: dict[str, Any], type_: str, reason: str, message: str, **counts: int
    ) -> None:
        current = copy.deepcopy(
            self.objects[("jobs", job["metadata"]["namespace"], job["metadata"]["name"])]
        )
        condition = {
            "type": type_,
            "status": "True",
            "reason": reason,
            "message": message,
            "lastTransitionTime": _now(),
        }
        current["status"] = {
            **current.get("status", {}),
            "conditions": [*current.get("status", {}).get("conditions", []), condition],
            "active": 0,
            **counts,
        }
        if type_ == "Complete":
            current["status"]["completionTime"] = _now()
        await self.put("jobs", current)

    async def job_deadline_exceeded(self, job: dict[str, Any]) -> None:
        """What the job controller does at activeDeadlineSeconds: fail, delete the pods."""
        await self.job_condition(
            job,
            "Failed",
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
            failed=1,
        )
        for pod in self.pods_of(job):
            await self.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _owner_job(self, pod: dict[str, Any]) -> dict[str, Any]:
        uid = pod["metadata"]["ownerReferences"][0]["uid"]
        return next(j for j in self.all("jobs") if j["metadata"]["uid"] == uid)

    # --- HTTP ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        routes = [
            Route("/apis/batch/v1/namespaces/{ns}/jobs", self._jobs, methods=["GET", "POST"]),
            Route(
                "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
                self._job,
                methods=["GET", "DELETE"],
            ),
            Route("/api/v1/namespaces/{ns}/secrets", self._secrets, methods=["GET", "POST"]),
            Route(
                "/api/v1/namespaces/{ns}/secrets/{name}",
                self._secret,
                methods=["GET", "PUT", "PATCH", "DELETE"],
            ),
            Route("/api/v1/namespaces/{ns}/pods", self._pods, methods=["GET"]),
            Route("/api/v1/namespaces/{ns}/pods/{name}/log", self._log, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _authorized(self, request: Request) -> Response | None:
        body: Any = None
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            raw = await request.body()
            body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.url.path, dict(request.query_params), body))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        return None

    async def _jobs(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        ns = request.path_params["ns"]
        if request.method == "GET":
            return await self._list_or_watch(request, "jobs", "JobList", "batch/v1")
        job = self.requests[-1][3]
        problem = validate_job(job)
        if problem:
            return status(422, "Invalid", problem)
        name = job["metadata"]["name"]
        if ("jobs", ns, name) in self.objects:
            return status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        self.job_creates += 1
        job["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=_now(), namespace=ns)
        job["status"] = {"startTime": _now(), "active": 1}
        await self.put("jobs", job, "ADDED")
        if self.create_pods:
            await self._create_pod(job)
        if self.scenario is not None:
            self._tasks.append(asyncio.create_task(self.scenario(self, copy.deepcopy(job))))
        return JSONResponse(job, status_code=201)

    async def _create_pod(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        template = copy.deepcopy(job["spec"]["template"])
        name = f"{meta['name']}-{secrets.token_hex(3)[:5]}"
        labels = {
            **template["metadata"].get("labels", {}),
            "job-name": meta["name"],
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"],
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "labels": labels,
                "creationTimestamp": _now(),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
            "status": {"phase": "Pending"},
        }
        await self.put("pods", pod, "ADDED")

    async def _job(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        return await self._one(request, "jobs", "jobs.batch")

    async def _one(self, request: Request, kind: str, resource: str) -> Response:
        ns, name = request.path_params["ns"], request.path_params["name"]
        obj = self.get(kind, ns, name)
        if obj is None:
            return status(404, "NotFound", f'{resource} "{name}" not found')
        if request.method == "GET":
            return JSONResponse(obj)
        if request.method == "DELETE":
            options = self.requests[-1][3] or {}
            policy = options.get("propagationPolicy") or request.query_params.get(
                "propagationPolicy"
            )
            if policy == "Orphan":
                self.objects.pop((kind, ns, name))
                return JSONResponse(obj)
            await self.remove(kind, ns, name)
            return JSONResponse({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return status(405, "MethodNotAllowed", "method not allowed")

    async def _secrets(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        ns = request.path_params["ns"]
        if request.method == "GET":
            return await self._list_or_watch(request, "secrets", "SecretList", "v1")
        secret = normalize_secret(self.requests[-1][3])
        if isinstance(secret, str):
            return status(422, "Invalid", secret)
        name = secret["metadata"]["name"]
        if ("secrets", ns, name) in self.objects:
            return status(409, "AlreadyExists", f'secrets "{name}" already exists')
        secret["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=_now(), namespace=ns)
        await self.put("secrets", secret, "ADDED")
        return JSONResponse(secret, status_code=201)

    async def _secret(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        ns, name = request.path_params["ns"], request.path_params["name"]
        current = self.get("secrets", ns, name)
        if request.method in ("GET", "DELETE") or current is None:
            return await self._one(request, "secrets", "secrets")
        body = self.requests[-1][3]
        if request.method == "PUT":
            secret = normalize_secret(body)
            if isinstance(secret, str):
                return status(422, "Invalid", secret)
            secret["metadata"].update(
                uid=current["metadata"]["uid"],
                creationTimestamp=current["metadata"]["creationTimestamp"],
                namespace=ns,
            )
        else:
            content_type = request.headers.get("content-type", "")
            if "merge-patch" not in content_type:
                return status(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")
            secret = merge_patch(copy.deepcopy(current), body)
        await self.put("secrets", secret)
        return JSONResponse(secret)

    async def _pods(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        return await self._list_or_watch(request, "pods", "PodList", "v1")

    async def _log(self, request: Request) -> Response:
        if denied := await self._authorized(request):
            return denied
        ns, name = request.path_params["ns"], request.path_params["name"]
        pod = self.get("pods", ns, name)
        if pod is None:
            return status(404, "NotFound", f'pods "{name}" not found')
        container = request.query_params.get("container")
        names = [c["name"] for c in pod["spec"]["containers"]]
        if container and container not in names:
            return status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        text = self.logs.get((ns, name), "")
        tail = request.query_params.get("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) else ""
        return PlainTextResponse(text)

    async def _list_or_watch(
        self, request: Request, kind: str, list_kind: str, api_version: str
    ) -> Response:
        ns = request.path_params["ns"]
        query = request.query_params
        match = selector(query.get("labelSelector"), query.get("fieldSelector"))
        if query.get("watch") not in ("true", "1", "True"):
            self.list_requests += 1
            async with self.changed:
                self.changed.notify_all()
            items = [
                o for (k, n, _), o in self.objects.items() if k == kind and n == ns and match(o)
            ]
            return JSONResponse(
                {
                    "kind": list_kind,
                    "apiVersion": api_version,
                    "metadata": {"resourceVersion": str(self.version)},
                    "items": items,
                }
            )
        self.watch_requests += 1
        async with self.changed:
            self.changed.notify_all()
        since = int(query.get("resourceVersion") or self.version)
        timeout = float(query.get("timeoutSeconds") or 30)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1", "True")
        return StreamingResponse(
            self._stream(kind, ns, match, since, timeout, bookmarks),
            media_type="application/json",
        )

    async def _stream(
        self,
        kind: str,
        ns: str,
        match: Callable[[dict[str, Any]], bool],
        since: int,
        seconds: float,
        bookmarks: bool,
    ) -> AsyncIterator[bytes]:
        def gone() -> bytes:
            obj = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "message": f"too old resource version: {since} ({self.compacted_below})",
                "reason": "Expired",
                "code": 410,
            }
            return json.dumps({"type": "ERROR", "object": obj}).encode() + b"\n"

        if since < self.compacted_below:
            yield gone()
            return
        cursor = since
        generation = self.expirations
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while True:
            for event in [e for e in self.events if e.version > cursor]:
                cursor = event.version
                if event.kind == kind and event.namespace == ns and match(event.obj):
                    yield json.dumps({"type": event.type, "object": event.obj}).encode() + b"\n"
            if generation != self.expirations:
                yield gone()
                return
            remaining = end - loop.time()
            if remaining <= 0 or self.closing:
                break
            async with self.changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.changed.wait_for(
                            lambda c=cursor: (
                                any(e.version > c for e in self.events)
                                or generation != self.expirations
                                or self.closing
                            )
                        ),
                        remaining,
                    )
        if bookmarks:
            mark = {"kind": "Bookmark", "metadata": {"resourceVersion": str(self.version)}}
            yield json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n"

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "runner", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "runner", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    async def close(self) -> None:
        self.closing = True
        async with self.changed:
            self.changed.notify_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def selector(labels: str | None, fields: str | None) -> Callable[[dict[str, Any]], bool]:
    wanted_labels = dict(part.split("=", 1) for part in (labels or "").split(",") if part)
    wanted_fields = dict(part.split("=", 1) for part in (fields or "").split(",") if part)

    def match(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        have = meta.get("labels") or {}
        if any(have.get(k) != v for k, v in wanted_labels.items()):
            return False
        for key, value in wanted_fields.items():
            if key == "metadata.name" and meta.get("name") != value:
                return False
            if key == "metadata.namespace" and meta.get("namespace") != value:
                return False
        return True

    return match


def validate_job(job: Any) -> str | None:
    """The checks of the API server's Job validation that a manifest could fail."""
    if not isinstance(job, dict) or job.get("kind") != "Job":
        return "body is not a Job"
    meta = job.get("metadata") or {}
    name = meta.get("name") or ""
    if len(name) > 63 or not DNS_1123.match(name):
        return f"metadata.name: Invalid value: {name!r}: must be a DNS-1123 label"
    for key, value in (meta.get("labels") or {}).items():
        if len(value) > 63 or not LABEL_VALUE.match(value):
            return f"metadata.labels: Invalid value: {key}={value!r}"
    spec = job.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        return "spec.template.spec.restartPolicy: Unsupported value"
    for container in pod.get("containers") or []:
        if not container.get("image"):
            return "spec.template.spec.containers[0].image: Required value"
        for resource, limit in (container.get("resources", {}).get("limits") or {}).items():
            request = container["resources"].get("requests", {}).get(resource)
            if request is not None and _quantity(request) > _quantity(limit):
                return f"resources.requests[{resource}]: must be less than or equal to limit"
    return None


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "k": 1e3, "M": 1e6, "G": 1e9}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def normalize_secret(secret: Any) -> dict[str, Any] | str:
    """stringData folded into base64 ``data``, as the API server stores it."""
    if not isinstance(secret, dict) or secret.get("kind") != "Secret":
        return "body is not a Secret"
    secret = copy.deepcopy(secret)
    data = dict(secret.get("data") or {})
    for key, value in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(value.encode()).decode()
    for key in data:
        if not SECRET_KEY.match(key):
            return f"data[{key}]: Invalid value: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
    secret["data"] = data
    return secret


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port in this event loop; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await task
