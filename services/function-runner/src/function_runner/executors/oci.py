"""OCI functions as Kubernetes Jobs: ``run_oci_function(function, input, ctx)``.

One run = one Job (see :mod:`.oci_spec` for its shape) plus, when there are credentials
or a large input, one Secret. The executor:

1. creates the Secret, then the Job; on ``409 AlreadyExists`` (a re-executed activity of
   the same execution, node and attempt) it re-attaches to the Job that already exists
   instead of starting a second one; then owner-references the Secret to the Job so the
   garbage collector removes it with the Job even if this process dies;
2. waits with two watches (the Job, and its Pods), re-listing when a watch expires with
   ``410 Gone`` and re-watching when the server closes a watch; never a sleep loop;
3. maps the outcome: success -> the last JSON line the container wrote (pod logs);
   failure -> a :class:`FunctionError` naming the reason (image pull, OOMKilled, deadline,
   non-zero exit with the log tail, eviction, unschedulable), with ``job_name``,
   ``pod_name`` and ``logTail`` in its details;
4. deletes the per-run Secret once the run is over, and deletes the Job (propagation
   ``Background``) when the run times out, is cancelled (``asyncio.CancelledError``), or
   can never start (image pull, unschedulable, bad config). Finished Jobs are left for
   ``ttlSecondsAfterFinished`` so their logs can be inspected.

The client is ``kubernetes_asyncio`` (the official client's OpenAPI-generated API on
asyncio/aiohttp): a run waits minutes on open watch streams, and on the event loop that
costs no thread, and cancellation interrupts a watch at once so the Job is deleted
immediately.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.config.config_exception import ConfigException
from opentelemetry import propagate

from function_runner.builtins.base import (
    ErrorCode,
    ExecutionContext,
    FunctionError,
    FunctionRecord,
    OciResult,
)
from function_runner.executors.oci_spec import (
    CONTAINER_NAME,
    RUN_LABEL,
    JobPlan,
    RunIdentity,
    build_plan,
)
from function_runner.executors.oci_status import Verdict, assess, last_json_line, log_tail
from function_runner.settings import Settings

CLEANUP_TIMEOUT_SECONDS = 15.0
WATCH_RETRIES = 5
_CONNECTIONS_PER_RUN = 8
"""Two watches, the calls beside them and the cleanup: one pool per run, never starved."""


class KubeError(Exception):
    """A non-2xx answer of the Kubernetes API (its ``Status`` reason and message)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


async def run_oci_function(
    function: FunctionRecord, input: dict[str, Any], ctx: ExecutionContext
) -> OciResult:
    """Run ``function``'s image once with ``input`` as a Kubernetes Job; see the module doc."""
    trace: dict[str, str] = {}
    propagate.inject(trace)
    run = RunIdentity(
        execution_id=ctx.execution_id,
        workflow_id=ctx.workflow_id,
        node_id=ctx.node_id,
        node_name=ctx.node_name,
        attempt=ctx.attempt,
        trace=trace,
    )
    plan = build_plan(function, input, run, ctx.credentials, ctx.settings)
    async with open_api_client(ctx.settings) as api:
        return await JobRun(api, plan, ctx).run()


@contextlib.asynccontextmanager
async def open_api_client(settings: Settings) -> AsyncIterator[k8s.ApiClient]:
    """An API client from ``settings.kubeconfig``, the in-cluster service account, or the
    default kubeconfig (``$KUBECONFIG`` / ``~/.kube/config``), in that order."""
    configuration = k8s.Configuration()
    try:
        if settings.kubeconfig:
            await k8s_config.load_kube_config(
                config_file=settings.kubeconfig,
                context=settings.k8s_context,
                client_configuration=configuration,
                persist_config=False,
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        elif _default_kubeconfig().exists():
            await k8s_config.load_kube_config(
                config_file=str(_default_kubeconfig()),
                context=settings.k8s_context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            raise FunctionError(
                "Kubernetes is not configured for OCI functions: no "
                "FUNCTION_RUNNER_KUBECONFIG, no in-cluster service account, no ~/.kube/config",
                code="internal",
            )
    except (ConfigException, OSError, ValueError) as exc:
        raise FunctionError(f"the Kubernetes configuration cannot be loaded: {exc}") from None
    configuration.connection_pool_maxsize = _CONNECTIONS_PER_RUN
    api = k8s.ApiClient(configuration)
    try:
        yield api
    finally:
        await api.close()


def _default_kubeconfig() -> Path:
    return Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()


class JobRun:
    """One run of one Job: create or re-attach, watch, decide, clean up."""

    def __init__(self, api: k8s.ApiClient, plan: JobPlan, ctx: ExecutionContext) -> None:
        self.plan = plan
        self.ctx = ctx
        self.settings = ctx.settings
        self.batch = k8s.BatchV1Api(api)
        self.core = k8s.CoreV1Api(api)
        self.job: dict[str, Any] | None = None
        self.job_deleted = False
        self.pods: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()
        self.reattached = False

    # --- the run ------------------------------------------------------------------

    async def run(self) -> OciResult:
        name = self.plan.name
        try:
            await self._start()
            remaining = max(0.0, self.ctx.deadline - time.monotonic())
            async with asyncio.timeout(remaining):
                verdict = await self._wait()
        except asyncio.CancelledError:
            self.ctx.log.warning("OCI run cancelled; deleting job %s", name)
            await self._cleanup(delete_job=True)
            raise
        except TimeoutError:
            self.ctx.log.warning("OCI run timed out; deleting job %s", name)
            await self._cleanup(delete_job=True)
            raise FunctionError(
                "the function did not finish before its timeout; its job was deleted",
                code="timeout",
                details={"job_name": name, "pod_name": self._latest_pod_name()},
            ) from None
        except FunctionError:
            await self._cleanup(delete_job=False)
            raise
        except KubeError as exc:
            await self._cleanup(delete_job=False)
            raise _api_error(exc, self.plan) from None
        except aiohttp.ClientError as exc:
            await self._cleanup(delete_job=False)
            raise FunctionError(
                f"the Kubernetes API is unreachable: {exc}", code="upstream", retryable=True
            ) from None
        return await self._finish(verdict)

    async def _finish(self, verdict: Verdict) -> OciResult:
        # a run that never started its process would only wait for its deadline: delete it
        delete_job = verdict.state == "failed" and (
            verdict.code in ("validation", "not_found", "forbidden")
            or verdict.reason == "Unschedulable"
        )
        try:
            if verdict.state == "succeeded":
                return await self._result(verdict)
            output = await self._logs(verdict.pod_name) if verdict.wants_logs else ""
            tail = log_tail(output) if output else None
            message = verdict.message
            if tail:
                message = f"{message}; last output:\n{tail}"
            raise FunctionError(
                message,
                code=verdict.code,
                retryable=verdict.retryable,
                details={
                    "job_name": self.plan.name,
                    "pod_name": verdict.pod_name,
                    "reason": verdict.reason,
                    "logTail": tail,
                    **verdict.details,
                },
            )
        except asyncio.CancelledError:
            delete_job = True
            raise
        except KubeError as exc:
            raise _api_error(exc, self.plan) from None
        except aiohttp.ClientError as exc:
            raise FunctionError(
                f"the Kubernetes API is unreachable: {exc}", code="upstream", retryable=True
            ) from None
        finally:
            await self._cleanup(delete_job=delete_job)

    async def _result(self, verdict: Verdict) -> OciResult:
        pod_name = verdict.pod_name or await self._find_pod_name()
        if pod_name is None:
            raise FunctionError(
                "the job succeeded but its pod is gone, so its output is lost",
                code="upstream",
                retryable=True,
                details={"job_name": self.plan.name},
            )
        output = await self._logs(pod_name)
        found, data = last_json_line(output)
        if not found:
            raise FunctionError(
                "the container succeeded but wrote no JSON line to stdout",
                code="upstream",
                details={
                    "job_name": self.plan.name,
                    "pod_name": pod_name,
                    "logTail": log_tail(output) or None,
                },
            )
        self.ctx.log.info(
            "OCI job %s succeeded on pod %s%s",
            self.plan.name,
            pod_name,
            " (re-attached)" if self.reattached else "",
        )
        return OciResult(data=data, job_name=self.plan.name, pod_name=pod_name)

    # --- create / re-attach ----------------------------------------------------------

    async def _start(self) -> None:
        ns = self.plan.namespace
        if self.plan.secret is not None:
            await self._put_secret()
        try:
            job = await _call(self.batch.create_namespaced_job, ns, self.plan.job)
        except KubeError as exc:
            if exc.status != 409:
                raise
            job = await _call(self.batch.read_namespaced_job, self.plan.name, ns)
            labels = job.get("metadata", {}).get("labels") or {}
            if labels.get(RUN_LABEL) != self.plan.name:
                raise FunctionError(
                    f"a job named {self.plan.name!r} exists but belongs to something else",
                    code="conflict",
                ) from None
            self.reattached = True
            self.ctx.log.info("re-attaching to existing job %s", self.plan.name)
        self.job = job
        if self.plan.secret is not None:
            await self._own_secret(job)

    async def _put_secret(self) -> None:
        assert self.plan.secret is not None
        ns, name = self.plan.namespace, self.plan.name
        try:
            await _call(self.core.create_namespaced_secret, ns, self.plan.secret)
        except KubeError as exc:
            if exc.status != 409:
                raise
            await _call(self.core.replace_namespaced_secret, name, ns, self.plan.secret)

    async def _own_secret(self, job: Mapping[str, Any]) -> None:
        meta = job.get("metadata", {})
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "blockOwnerDeletion": False,
            "controller": False,
        }
        patch = {"metadata": {"ownerReferences": [owner]}}
        await _call(self.core.patch_namespaced_secret, self.plan.name, self.plan.namespace, patch)

    # --- waiting ---------------------------------------------------------------------

    async def _wait(self) -> Verdict:
        watchers = [
            asyncio.create_task(self._watch_job(), name=f"watch-job-{self.plan.name}"),
            asyncio.create_task(self._watch_pods(), name=f"watch-pods-{self.plan.name}"),
        ]
        try:
            return await self._until_decided(watchers)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _until_decided(self, watchers: list[asyncio.Task[None]]) -> Verdict:
        unschedulable_since: float | None = None
        grace = self.settings.oci_unschedulable_timeout_seconds
        while True:
            self.changed.clear()
            verdict = self._assess()
            if verdict.from_job:
                # the Job's watch can deliver "Failed" before the Pod's watch delivers why
                await self._find_pod_name()
                verdict = self._assess()
            if verdict.state != "running":
                return verdict
            wait_for: float | None = None
            if verdict.unschedulable is not None:
                now = time.monotonic()
                unschedulable_since = unschedulable_since or now
                wait_for = unschedulable_since + grace - now
                if wait_for <= 0:
                    return Verdict(
                        "failed",
                        pod_name=verdict.pod_name,
                        code="upstream",
                        reason="Unschedulable",
                        retryable=True,
                        message="the pod could not be scheduled within "
                        f"{grace:g} s: {verdict.unschedulable}",
                    )
            else:
                unschedulable_since = None
            changed = asyncio.create_task(self.changed.wait())
            try:
                await asyncio.wait(
                    [changed, *watchers], timeout=wait_for, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                changed.cancel()
            for task in watchers:
                if task.done():
                    task.result()  # a watch only ends by failing: raise its error
                    raise KubeError(500, "WatchEnded", "a watch ended unexpectedly")

    def _assess(self) -> Verdict:
        if self.job_deleted:
            return Verdict(
                "failed",
                pod_name=self._latest_pod_name(),
                code="upstream",
                reason="JobDeleted",
                retryable=True,
                message="the job was deleted while it ran",
            )
        return assess(self.job, self.pods.values())

    async def _watch_job(self) -> None:
        selector = {"field_selector": f"metadata.name={self.plan.name}"}
        await self._watch(self.batch.list_namespaced_job, selector, self._on_job)

    async def _watch_pods(self) -> None:
        selector = {"label_selector": f"{RUN_LABEL}={self.plan.name}"}
        await self._watch(self.core.list_namespaced_pod, selector, self._on_pod)

    async def _watch(
        self,
        list_fn: Callable[..., Awaitable[Any]],
        selector: Mapping[str, str],
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> None:
        """List, then watch from the list's resourceVersion; re-list on 410 Gone."""
        ns = self.plan.namespace
        timeout = self.settings.oci_watch_timeout_seconds
        failures = 0
        while True:
            try:
                listing = await _call(list_fn, ns, **selector)
                on_event("SYNC", listing)
                version = str(listing.get("metadata", {}).get("resourceVersion") or "")
                while version:
                    version = await self._watch_once(
                        list_fn, ns, selector, version, timeout, on_event
                    )
                    failures = 0
            except (aiohttp.ClientError, TimeoutError) as exc:
                # a dropped connection: back off briefly, then list and watch again
                failures += 1
                if failures > WATCH_RETRIES:
                    raise
                self.ctx.log.info("watch of job %s broke (%s); re-listing", self.plan.name, exc)
                await asyncio.sleep(min(2.0**failures * 0.25, 5.0))

    async def _watch_once(
        self,
        list_fn: Callable[..., Awaitable[Any]],
        ns: str,
        selector: Mapping[str, str],
        version: str,
        watch_seconds: int,
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> str:
        """One watch request; returns the version to resume from, "" to re-list."""
        response = await list_fn(
            ns,
            **selector,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=watch_seconds,
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(total=None, sock_read=watch_seconds + 30),
        )
        try:
            if response.status == 410:
                return ""
            if not 200 <= response.status < 300:
                raise await _kube_error(response)
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return ""
                    raise KubeError(
                        int(obj.get("code") or 500),
                        str(obj.get("reason") or "WatchError"),
                        str(obj.get("message") or ""),
                    )
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if kind != "BOOKMARK":
                    on_event(str(kind), obj)
            return version
        finally:
            response.release()

    def _on_job(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "SYNC":
            items = obj.get("items") or []
            if items:
                self.job = items[0]
            elif self.job is not None:
                self.job_deleted = True
        elif kind == "DELETED":
            self.job_deleted = True
        else:
            self.job = obj
        self.changed.set()

    def _on_pod(self, kind: str, obj: dict[str, Any]) -> None:
        if kind == "SYNC":
            self.pods = {p["metadata"]["name"]: p for p in obj.get("items") or []}
        else:
            # a DELETED pod carries its last state: it still explains what happened
            self.pods[obj["metadata"]["name"]] = obj
        self.changed.set()

    def _latest_pod_name(self) -> str | None:
        pods = sorted(
            self.pods.values(), key=lambda p: str(p["metadata"].get("creationTimestamp") or "")
        )
        return str(pods[-1]["metadata"]["name"]) if pods else None

    async def _find_pod_name(self) -> str | None:
        listing = await _call(
            self.core.list_namespaced_pod,
            self.plan.namespace,
            label_selector=f"{RUN_LABEL}={self.plan.name}",
        )
        for pod in listing.get("items") or []:
            self.pods[pod["metadata"]["name"]] = pod
        return self._latest_pod_name()

    async def _logs(self, pod_name: str | None) -> str:
        if pod_name is None:
            return ""
        response: Any = await self.core.read_namespaced_pod_log(
            pod_name,
            self.plan.namespace,
            container=CONTAINER_NAME,
            tail_lines=self.settings.oci_log_tail_lines,
            _preload_content=False,
        )
        try:
            if response.status == 404:
                return ""
            if not 200 <= response.status < 300:
                raise await _kube_error(response)
            raw: bytes = await response.read()
            return raw.decode("utf-8", errors="replace")
        finally:
            response.release()

    # --- cleanup ---------------------------------------------------------------------

    async def _cleanup(self, *, delete_job: bool) -> None:
        """Delete the Secret (and the Job); bounded, shielded from a second cancellation."""
        task = asyncio.ensure_future(self._delete(delete_job=delete_job))
        try:
            await asyncio.wait_for(asyncio.shield(task), CLEANUP_TIMEOUT_SECONDS)
        except (TimeoutError, asyncio.CancelledError):
            self.ctx.log.warning("cleanup of job %s is still running", self.plan.name)
        except (KubeError, aiohttp.ClientError) as exc:
            self.ctx.log.warning("cleanup of job %s failed: %s", self.plan.name, exc)

    async def _delete(self, *, delete_job: bool) -> None:
        ns, name = self.plan.namespace, self.plan.name
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if delete_job:
            await _ignore_missing(_call(self.batch.delete_namespaced_job, name, ns, body=options))
        if self.plan.secret is not None:
            await _ignore_missing(_call(self.core.delete_namespaced_secret, name, ns))


async def _call(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call a client method and return the JSON body as a dict; non-2xx raises KubeError."""
    response = await fn(*args, _preload_content=False, **kwargs)
    try:
        if not 200 <= response.status < 300:
            raise await _kube_error(response)
        body: dict[str, Any] = json.loads(await response.read())
        return body
    finally:
        response.release()


async def _ignore_missing(call: Awaitable[dict[str, Any]]) -> None:
    try:
        await call
    except KubeError as exc:
        if exc.status != 404:
            raise


async def _kube_error(response: Any) -> KubeError:
    raw = await response.read()
    try:
        status = json.loads(raw)
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    return KubeError(
        int(response.status),
        str(status.get("reason") or response.reason or ""),
        str(status.get("message") or raw[:300].decode("utf-8", errors="replace")),
    )


_API_CODES: dict[int, tuple[ErrorCode, bool]] = {
    400: ("validation", False),
    401: ("auth", False),
    403: ("forbidden", False),
    404: ("not_found", False),
    409: ("conflict", True),
    422: ("validation", False),
    429: ("rate_limited", True),
}


def _api_error(exc: KubeError, plan: JobPlan) -> FunctionError:
    code, retryable = _API_CODES.get(exc.status, ("upstream", exc.status >= 500))
    return FunctionError(
        f"the Kubernetes API refused the request ({exc.status} {exc.reason}) "
        f"in namespace {plan.namespace!r}: {exc.message}",
        code=code,
        retryable=retryable,
        status=exc.status,
        details={"job_name": plan.name},
    )
