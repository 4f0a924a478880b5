"""The workflow's activities: every side effect of a run happens here.

Activities are at-least-once (a crash re-delivers them), so each one is idempotent:
events carry deterministic ids, and an action whose result was already recorded returns
that result instead of calling the function again (function-runner also receives an
idempotency key for the calls that do go out).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import aiohttp
from dapr.ext.workflow import WorkflowActivityContext
from dapr.ext.workflow._durabletask.task import NonRetryableError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orchestrator.interpreter import contracts as c
from orchestrator.records.store import Notifier, RecordStore, SealedSecret, scrub
from orchestrator.secrets_box import SecretsBox
from orchestrator.settings import Settings
from service_kit.db import create_engine
from service_kit.logging import log_context

_log = logging.getLogger("orchestrator.activities")
_tracer = trace.get_tracer("orchestrator.activities")


class RetryableActionError(Exception):
    """A failed attempt that the node's retry policy may retry."""


class SidecarUnreachable(Exception):
    """The sidecar did not answer (connection refused or reset, malformed reply)."""


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Sidecar:
    """HTTP calls to the Dapr sidecar. aiohttp rather than httpx: on the path of every
    action, httpx's client cost about three times as much CPU per call."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        self._session = aiohttp.ClientSession(
            base_url,
            headers=dict(headers),
            connector=aiohttp.TCPConnector(limit=200),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        timeout_s: float,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Reply:
        """One request; raises ``TimeoutError`` after ``timeout_s`` seconds, and
        ``SidecarUnreachable`` when no answer came."""
        data = None
        if json_body is not None:  # compact, and NaN is refused as it is not JSON
            data = json.dumps(json_body, separators=(",", ":"), allow_nan=False).encode()
            headers = {**(headers or {}), "content-type": "application/json"}
        try:
            async with self._session.request(
                method,
                path,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as response:
                return _Reply(response.status, await response.read())
        except TimeoutError:  # before ClientError: aiohttp's timeouts are both
            raise
        except aiohttp.ClientError as exc:
            raise SidecarUnreachable(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        await self._session.close()


@dataclass
class _LoopResources:
    store: RecordStore
    http: _Sidecar

    async def close(self) -> None:
        await self.http.close()
        await self.store.engine.dispose()


class ActivityEnv:
    """Settings plus the resources activities use, created on the worker's event loop."""

    _current: ActivityEnv | None = None

    def __init__(self, settings: Settings, secrets: SecretsBox, notifier: Notifier) -> None:
        self.settings = settings
        self.secrets = secrets
        self.notifier = notifier
        self._by_loop: dict[int, tuple[asyncio.AbstractEventLoop, _LoopResources]] = {}

    @classmethod
    def install(cls, env: ActivityEnv) -> None:
        cls._current = env

    @classmethod
    def get(cls) -> ActivityEnv:
        if cls._current is None:
            raise RuntimeError("activities run before the orchestrator installed their environment")
        return cls._current

    def resources(self) -> _LoopResources:
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(id(loop))
        if found is None:
            engine = create_engine(self.settings.resolved_database_url())
            headers = (
                {"dapr-api-token": self.settings.dapr_api_token}
                if self.settings.dapr_api_token
                else {}
            )
            resources = _LoopResources(
                store=RecordStore(engine, self.notifier),
                http=_Sidecar(self.settings.dapr_http_endpoint, headers),
            )
            found = self._by_loop[id(loop)] = (loop, resources)
        return found[1]

    async def close(self) -> None:
        """Close every loop's resources, each on its own loop: this loop's here; a stopped
        loop's (the workflow worker's, once the worker stopped) on that loop, run to the
        end in a helper thread. A loop still running elsewhere, or closed, is left alone."""
        current = asyncio.get_running_loop()
        owned, self._by_loop = list(self._by_loop.values()), {}
        for loop, resources in owned:
            try:
                if loop is current:
                    await resources.close()
                elif not loop.is_running() and not loop.is_closed():
                    await asyncio.to_thread(loop.run_until_complete, resources.close())
            except Exception:
                _log.exception("closing the activities' connections failed")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _event(key: str, kind: str, node_key: str, node_id: str, **data: Any) -> c.EventRecord:
    """A node event of one activity execution; its id is stable across redeliveries."""
    return c.EventRecord(
        eid=f"act:{key}:{kind.removeprefix('node.')}",
        type=kind,
        node_key=node_key,
        node_id=node_id,
        at=_now(),
        data=data,
    )


def _execution_key(ctx: WorkflowActivityContext) -> str:
    inner = ctx.get_inner_context()
    execution_id = getattr(inner, "task_execution_id", "") or getattr(
        inner, "_task_execution_id", ""
    )
    return f"{ctx.workflow_id}:{ctx.task_id}" + (f":{execution_id}" if execution_id else "")


def _trace_headers(fallback: str | None) -> dict[str, str]:
    """W3C trace context of the current span (or the run's, when tracing is off)."""
    headers: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(headers)
    if "traceparent" not in headers and fallback:
        headers["traceparent"] = fallback
    return headers


def _parent_context(trace_parent: str | None) -> otel_context.Context | None:
    if not trace_parent or trace.get_current_span().get_span_context().is_valid:
        return None
    return TraceContextTextMapPropagator().extract({"traceparent": trace_parent})


def _open(env: ActivityEnv, sealed: SealedSecret | None) -> dict[str, Any]:
    """Credentials passed with the run (or with the run a sub-workflow belongs to)."""
    if sealed is None:
        return {}
    value = env.secrets.open(sealed.instance_id, sealed.nonce, sealed.ciphertext)
    return value if isinstance(value, dict) else {}


SHORTEST_HIDDEN_CREDENTIAL = 8
"""Credential strings shorter than this are not searched for in outputs (too many false
hits: ``"true"``, ``"v1"``, a region)."""


def _credential_strings(integrations: Any) -> list[str]:
    """Every string in the run's credentials, longest first. Credentials are sealed as a
    whole, so every value in them counts as secret, not only those under secret-looking
    keys."""
    found: set[str] = set()
    stack = [integrations]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and len(value) >= SHORTEST_HIDDEN_CREDENTIAL:
            found.add(value)
    return sorted(found, key=len, reverse=True)


# --- execute_action -----------------------------------------------------------------------


async def execute_action(ctx: WorkflowActivityContext, payload: dict[str, Any]) -> dict[str, Any]:
    task = c.ActionTask.model_validate(payload)
    env = ActivityEnv.get()
    res = env.resources()
    key = _execution_key(ctx)
    token = otel_context.attach(ctx_) if (ctx_ := _parent_context(task.trace_parent)) else None
    try:
        with (
            _tracer.start_as_current_span(
                f"node {task.node_name}",
                attributes={
                    "workflow.instance_id": task.instance_id,
                    "workflow.node_id": task.node_id,
                    "function.slug": task.function_slug,
                },
            ),
            log_context(
                execution_id=task.instance_id, workflow_id=task.workflow_id, node_id=task.node_key
            ),
        ):
            return await _run_action(env, res, task, key)
    finally:
        if token is not None:
            otel_context.detach(token)


async def _run_action(
    env: ActivityEnv, res: _LoopResources, task: c.ActionTask, key: str
) -> dict[str, Any]:
    started = _event(
        key,
        "node.started",
        task.node_key,
        task.node_id,
        **{
            "input": task.input,
            "label": task.node_name,
            "nodeType": task.node_type,
            "function": task.function_slug,
            **({"compensationOf": task.compensation_of} if task.compensation_of else {}),
        },
    )
    integrations: dict[str, Any] = {}
    credentials: list[str] = []

    def open_credentials(sealed: SealedSecret | None) -> list[str]:
        """Decrypt the run's credentials once, inside begin_action's transaction: the
        input it records may carry one too (an earlier function's output that echoed it)."""
        nonlocal integrations, credentials
        integrations = _open(env, sealed)
        credentials = _credential_strings(integrations)
        return credentials

    begun_action = await res.store.begin_action(
        task.instance_id, key, started, task.records, secrets=True, hide=open_credentials
    )
    if begun_action.done:  # a redelivery of an execution that already finished
        return dict(begun_action.result)
    attempt = begun_action.attempt
    begun = time.perf_counter()
    try:
        result = await _call_function_runner(env, res, task, attempt, integrations)
    except RetryableActionError as exc:
        message = scrub(str(exc), credentials)
        return await _attempt_failed(res, task, key, attempt, message, retryable=True)
    except NonRetryableError as exc:
        message = scrub(str(exc), credentials)
        return await _attempt_failed(res, task, key, attempt, message, retryable=False)
    result.setdefault("duration_ms", round((time.perf_counter() - begun) * 1000, 2))
    completed = _event(
        key,
        "node.completed",
        task.node_key,
        task.node_id,
        **{
            # recorded without credentials; the run itself gets the output as it came
            "output": scrub(result, credentials),
            "attempt": attempt,
            "label": task.node_name,
            "nodeType": task.node_type,
        },
    )
    await res.store.record_with_result(task.instance_id, [completed], key, result)
    return result


async def _attempt_failed(
    res: _LoopResources,
    task: c.ActionTask,
    key: str,
    attempt: int,
    message: str,
    *,
    retryable: bool,
) -> NoReturn:
    will_retry = retryable and attempt < task.max_attempts
    if will_retry:
        await res.store.record(
            task.instance_id,
            [
                _event(
                    key,
                    "node.retrying",
                    task.node_key,
                    task.node_id,
                    **{"attempt": attempt, "error": message},
                )
            ],
        )
        _log.warning("attempt %s of %s failed, will retry: %s", attempt, task.max_attempts, message)
        raise RetryableActionError(message)
    _log.warning("attempt %s failed for good: %s", attempt, message)
    raise NonRetryableError(message)


async def _call_function_runner(
    env: ActivityEnv,
    res: _LoopResources,
    task: c.ActionTask,
    attempt: int,
    integrations: dict[str, Any],
) -> dict[str, Any]:
    settings = env.settings
    timeout = task.timeout_seconds or settings.default_action_timeout_seconds
    body = {
        "function_slug": task.function_slug,
        "execution_id": task.instance_id,
        "workflow_id": task.workflow_id,
        "node_id": task.node_id,
        "node_name": task.node_name,
        "input": task.input,
        "node_outputs": task.node_outputs,
        "integrations": integrations,
        "attempt": attempt,
        "timeout_seconds": timeout,
        "idempotency_key": f"{task.instance_id}:{task.node_key}:{attempt}",
    }
    if task.tenant_id:
        body["tenant_id"] = task.tenant_id
    if task.credential_name:
        body["credential_name"] = task.credential_name
    url = f"/v1.0/invoke/{settings.function_runner_app_id}/method/execute"
    try:
        response = await res.http.call(
            "POST",
            url,
            json_body=body,
            headers=_trace_headers(task.trace_parent),
            timeout_s=timeout + 15,
        )
    except TimeoutError:
        raise RetryableActionError(
            f"{task.function_slug} did not answer within {timeout:.0f}s"
        ) from None
    except SidecarUnreachable as exc:
        raise RetryableActionError(f"function-runner unreachable: {exc}") from None
    return _interpret_response(task, response)


def _interpret_response(task: c.ActionTask, response: _Reply) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    status = response.status
    if status == 200 and isinstance(payload, dict):
        if payload.get("success"):
            return payload
        error = str(payload.get("error") or "the function reported failure")
        if payload.get("retryable"):
            raise RetryableActionError(error)
        raise NonRetryableError(error)
    detail = _problem_detail(payload) or response.text[:300] or f"HTTP {status}"
    if status == 429 or status >= 500:
        raise RetryableActionError(f"{task.function_slug}: {detail} (HTTP {status})")
    raise NonRetryableError(f"{task.function_slug}: {detail} (HTTP {status})")


def _problem_detail(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    detail = payload.get("detail") or payload.get("message") or payload.get("error")
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        parts = [
            f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('message') or e.get('msg')}"
            for e in errors[:5]
            if isinstance(e, dict)
        ]
        detail = f"{detail}: {'; '.join(parts)}" if detail else "; ".join(parts)
    return str(detail) if detail else None


# --- publish_event ------------------------------------------------------------------------


async def publish_event(ctx: WorkflowActivityContext, payload: dict[str, Any]) -> dict[str, Any]:
    task = c.PublishTask.model_validate(payload)
    env = ActivityEnv.get()
    res = env.resources()
    key = _execution_key(ctx)
    begun = await res.store.begin_action(
        task.instance_id,
        key,
        _event(
            key,
            "node.started",
            task.node_key,
            task.node_id,
            **{"input": {"topic": task.topic, "data": task.data}, "nodeType": "publish-event"},
        ),
    )
    if begun.done:
        return dict(begun.result)
    params = {f"metadata.{k}": v for k, v in task.metadata.items()}
    headers = _trace_headers(task.trace_parent)
    url = f"/v1.0/publish/{task.pubsub_name}/{task.topic}"
    try:
        response = await res.http.call(
            "POST", url, json_body=task.data, params=params, headers=headers, timeout_s=30
        )
    except (TimeoutError, SidecarUnreachable) as exc:
        raise RuntimeError(
            f"publishing to {task.pubsub_name}/{task.topic} failed: {exc or 'timed out'}"
        ) from None
    if response.status >= 300:
        raise NonRetryableError(
            f"publishing to {task.pubsub_name}/{task.topic} failed: HTTP {response.status} {response.text[:300]}"
        )
    result = {
        "success": True,
        "data": {"topic": task.topic, "pubsubName": task.pubsub_name, "published": True},
        "error": None,
        "duration_ms": 0,
    }
    completed = _event(key, "node.completed", task.node_key, task.node_id, **{"output": result})
    await res.store.record_with_result(task.instance_id, [completed], key, result)
    return result


# --- records ------------------------------------------------------------------------------


async def record_events(ctx: WorkflowActivityContext, payload: dict[str, Any]) -> None:
    batch = c.RecordBatch.model_validate(payload)
    await ActivityEnv.get().resources().store.record(batch.instance_id, batch.events)


async def finish_run(ctx: WorkflowActivityContext, payload: dict[str, Any]) -> None:
    task = c.FinishTask.model_validate(payload)
    await ActivityEnv.get().resources().store.record(task.instance_id, task.records(_now()))


# --- load_definition ----------------------------------------------------------------------


async def load_definition(ctx: WorkflowActivityContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Fetch a saved workflow's definition from admin-api (for sub-workflow nodes)."""
    task = c.LoadDefinitionTask.model_validate(payload)
    env = ActivityEnv.get()
    res = env.resources()
    url = f"/v1.0/invoke/{env.settings.admin_api_app_id}/method/api/v1/internal/workflows/{task.workflow_id}/definition"
    project = task.labels.get("projectId")
    if not project:
        raise NonRetryableError(
            f"sub-workflow {task.workflow_id!r} is a saved workflow, so the run must belong to a "
            "project (start it with labels.projectId), or give the node an inline 'definition'"
        )
    params = {"version": str(task.version), "projectId": project}
    try:
        response = await res.http.call("GET", url, params=params, timeout_s=30)
    except (TimeoutError, SidecarUnreachable) as exc:
        raise RuntimeError(f"admin-api unreachable: {exc or 'timed out'}") from None
    if response.status == 404:
        raise NonRetryableError(
            f"sub-workflow {task.workflow_id!r} (version {task.version}) was not found in this project"
        )
    if response.status >= 300:
        raise RuntimeError(f"admin-api answered {response.status}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("definition"), dict):
        raise NonRetryableError("admin-api returned no definition")
    return {"definition": body["definition"], "version": body.get("version")}


ACTIVITIES = {
    c.ACT_EXECUTE: execute_action,
    c.ACT_PUBLISH: publish_event,
    c.ACT_RECORD: record_events,
    c.ACT_FINISH: finish_run,
    c.ACT_LOAD_DEFINITION: load_definition,
}
