"""The ``/execute`` pipeline: look up, check, limit, resolve credentials, dispatch by
``execution_type`` under the deadline, validate the output, redact, record."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from function_runner.builtins.base import ExecutionContext, FunctionError, FunctionRecord
from function_runner.credentials.redaction import redact, redact_text, secret_values
from function_runner.execute.models import ExecutionResult
from function_runner.execute.schemas import ExecuteRequest, ExecuteResponse
from function_runner.execute.validation import field_errors
from function_runner.executors.http import run_http_function
from function_runner.functions.schemas import RetryPolicy
from function_runner.runtime import Runtime
from service_kit.logging import log_context
from service_kit.problems import Conflict, NotFound, TooManyRequests, Unprocessable

_log = logging.getLogger("function_runner.execute")
# Core statements on the hot path of every call (an ORM session costs more than the row).
_RESULTS = cast(Table, ExecutionResult.__table__)
_RECORDED_RESPONSE = select(_RESULTS.c.response).where(
    _RESULTS.c.idempotency_key == bindparam("key"), _RESULTS.c.function_slug == bindparam("slug")
)
_tracer = trace.get_tracer("function_runner.execute")


class StepLogAdapter(logging.LoggerAdapter[logging.Logger]):
    """``ctx.log``: keeps the caller's ``extra`` (the stock adapter replaces it) and adds
    the node name; the ids come from the bound log context."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


@dataclass
class Outcome:
    data: Any = None
    error: FunctionError | None = None
    job_name: str | None = None
    pod_name: str | None = None
    attempts: int = 1


class ExecuteService:
    def __init__(self, runtime: Runtime) -> None:
        """One instance per request."""
        self.rt = runtime
        self._secrets: list[str] = []

    async def function_for(self, request: ExecuteRequest) -> FunctionRecord:
        slug = request.function_slug
        function = await self.rt.registry.record(slug)
        if function is None:
            raise NotFound(f"function {slug!r} is not registered", function_slug=slug)
        if not function.is_enabled:
            raise Conflict(
                f"function {slug!r} is disabled; enable it in the registry to run it",
                function_slug=slug,
                reason="disabled",
            )
        if function.is_deprecated:
            raise Conflict(
                f"function {slug!r} is deprecated and no longer runs; "
                "switch the node to its replacement",
                function_slug=slug,
                reason="deprecated",
            )
        if function.execution_type == "builtin" and slug not in self.rt.builtins:
            raise Conflict(
                f"builtin {slug!r} has no handler in this version of the function runner",
                function_slug=slug,
                reason="not_installed",
            )
        return function

    def check_input(self, function: FunctionRecord, data: dict[str, Any]) -> None:
        if not function.input_schema:
            return
        errors = field_errors(function.input_schema, data)
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise Unprocessable(
                f"input of {function.slug!r} is invalid: {first['message']} "
                f"at {first['field']}{more}",
                errors,
                function_slug=function.slug,
            )

    async def replay(self, request: ExecuteRequest) -> ExecuteResponse | None:
        if request.idempotency_key is None:
            return None
        async with self.rt.engine.connect() as conn:
            recorded = await conn.scalar(
                _RECORDED_RESPONSE, {"key": request.idempotency_key, "slug": request.function_slug}
            )
        return ExecuteResponse.model_validate(recorded) if recorded is not None else None

    async def execute(self, request: ExecuteRequest) -> tuple[ExecuteResponse, bool]:
        """The response and whether it is a replay of a recorded result."""
        started = time.perf_counter()
        function = await self.function_for(request)
        recorded = await self.replay(request)
        if recorded is not None:
            return recorded, True
        self.check_input(function, request.input)
        timeout = min(
            request.timeout_seconds or float(function.timeout_seconds),
            float(self.rt.settings.max_timeout_seconds),
        )
        labels = (request.workflow_id, function.slug)
        lease = None
        if function.max_concurrency > 0:
            lease = await self.rt.limiter.acquire(
                function.slug, function.max_concurrency, timeout + 30
            )
            if lease is None:
                self.rt.metrics.executions.labels(*labels, "rejected").inc()
                raise TooManyRequests(
                    f"function {function.slug!r} already runs {function.max_concurrency} "
                    "time(s) at once (its max_concurrency); retry later",
                    retry_after=1,
                    function_slug=function.slug,
                )
        try:
            response = await self._run(request, function, timeout, started)
        finally:
            if lease is not None:
                await self.rt.limiter.release(lease)
        if response.success and request.idempotency_key is not None:
            await self._record(request, response)
        return response, False

    async def _run(
        self, request: ExecuteRequest, function: FunctionRecord, limit_s: float, started: float
    ) -> ExecuteResponse:
        tenant = request.tenant_id or self.rt.settings.default_tenant_id
        metrics = self.rt.metrics
        with (
            log_context(
                execution_id=request.execution_id,
                workflow_id=request.workflow_id,
                node_id=request.node_id,
                tenant_id=tenant,
                function=function.slug,
            ),
            _tracer.start_as_current_span(
                f"execute {function.slug}",
                attributes={
                    "function.slug": function.slug,
                    "function.execution_type": function.execution_type,
                    "function.version": function.version,
                    "workflow.execution_id": request.execution_id,
                    "workflow.id": request.workflow_id,
                    "workflow.node_id": request.node_id,
                    "workflow.attempt": request.attempt,
                },
            ) as span,
        ):
            metrics.active.labels(function.slug).inc()
            try:
                resolved = await self.rt.credentials.resolve(
                    function.integration_type,
                    tenant_id=tenant,
                    run_integrations=request.integrations,
                    credential_name=request.credential_name,
                )
                secrets = secret_values(
                    resolved.values.values(),
                    *[
                        [str(v) for v in group.values()]
                        for group in (request.integrations or {}).values()
                    ],
                )
                self._secrets = secrets
                ctx = ExecutionContext(
                    execution_id=request.execution_id,
                    workflow_id=request.workflow_id,
                    node_id=request.node_id,
                    node_name=request.node_name,
                    attempt=request.attempt,
                    credentials=resolved.values,
                    deadline=time.monotonic() + limit_s,
                    http=self.rt.http,
                    safe_http=self.rt.safe_http,
                    settings=self.rt.settings,
                    log=StepLogAdapter(
                        logging.getLogger(f"function.{function.slug}"),
                        {"node_name": request.node_name},
                    ),
                    node_outputs=request.node_outputs,
                    tenant_id=tenant,
                    idempotency_key=request.idempotency_key,
                )
                outcome = await self._dispatch_with_deadline(function, request.input, ctx, limit_s)
                if outcome.error is None:
                    outcome = self._check_output(function, outcome)
            finally:
                metrics.active.labels(function.slug).dec()
            response = self._response(function, outcome, secrets, started)
            status = (
                "success"
                if response.success
                else ("timeout" if response.error_code == "timeout" else "failure")
            )
            elapsed = time.perf_counter() - started
            metrics.duration.labels(
                request.workflow_id, function.slug, function.execution_type, tenant
            ).observe(elapsed)
            metrics.executions.labels(request.workflow_id, function.slug, status).inc()
            retries = (request.attempt - 1 if request.attempt > 1 else 0) + outcome.attempts - 1
            if retries:
                metrics.retries.labels(request.workflow_id, function.slug, tenant).inc(retries)
            span.set_attribute("function.outcome", status)
            if not response.success:
                span.set_status(Status(StatusCode.ERROR, response.error_code or "error"))
            _log.log(
                logging.INFO if response.success else logging.WARNING,
                "function %s %s",
                function.slug,
                status,
                extra={
                    "status": status,
                    "duration_ms": response.duration_ms,
                    "attempt": request.attempt,
                    "runner_attempts": outcome.attempts,
                    "error_code": response.error_code,
                    "error": response.error,
                    "credential_source": resolved.source,
                    "execution_type": function.execution_type,
                },
            )
            return response

    async def _dispatch_with_deadline(
        self, function: FunctionRecord, data: dict[str, Any], ctx: ExecutionContext, limit_s: float
    ) -> Outcome:
        try:
            async with asyncio.timeout(limit_s):
                return await self._dispatch(function, data, ctx)
        except TimeoutError:
            return Outcome(
                error=FunctionError(
                    f"function {function.slug!r} timed out after {limit_s:g}s",
                    code="timeout",
                    retryable=True,
                )
            )

    async def _dispatch(
        self, function: FunctionRecord, data: dict[str, Any], ctx: ExecutionContext
    ) -> Outcome:
        if function.execution_type == "builtin":
            return await self._builtin_with_retries(function, data, ctx)
        try:
            if function.execution_type == "http":
                return Outcome(data=await run_http_function(function, data, ctx))
            if function.execution_type == "oci":
                return await self._oci(function, data, ctx)
            raise FunctionError(f"unknown execution_type {function.execution_type!r}")
        except FunctionError as exc:
            return _failure_outcome(exc)
        except Exception as exc:
            return self._internal(function, exc)

    async def _oci(
        self, function: FunctionRecord, data: dict[str, Any], ctx: ExecutionContext
    ) -> Outcome:
        runner = self.rt.oci_runner
        if runner is None:
            raise FunctionError(
                f"{function.slug!r} is an OCI function, but the OCI executor "
                "(function_runner.executors.oci) is not installed in this runner",
                code="internal",
            )
        result = await runner(function, data, ctx)
        return Outcome(data=result.data, job_name=result.job_name, pod_name=result.pod_name)

    async def _builtin_with_retries(
        self, function: FunctionRecord, data: dict[str, Any], ctx: ExecutionContext
    ) -> Outcome:
        handler = self.rt.builtins[function.slug].handler
        policy = (
            RetryPolicy.model_validate(function.retry_policy) if function.retry_policy else None
        )
        attempt = 1
        while True:
            try:
                return Outcome(data=await handler(data, ctx), attempts=attempt)
            except FunctionError as exc:
                outcome = _failure_outcome(exc)
            except Exception as exc:
                outcome = self._internal(function, exc)
            outcome.attempts = attempt
            error = outcome.error
            assert error is not None
            if policy is None or not error.retryable or attempt >= policy.max_attempts:
                return outcome
            delay = max(policy.delay(attempt), error.retry_after or 0.0)
            if time.monotonic() + delay >= ctx.deadline:
                return outcome
            attempt += 1
            await asyncio.sleep(delay)

    def _internal(self, function: FunctionRecord, exc: Exception) -> Outcome:
        """An unexpected exception: logged with its traceback (secrets redacted) and
        reported as code ``internal``."""
        trace_text = redact_text("".join(traceback.format_exception(exc))[-4000:], self._secrets)
        _log.error(
            "function %s raised %s",
            function.slug,
            type(exc).__name__,
            extra={"traceback": trace_text},
        )
        return Outcome(error=FunctionError(f"{type(exc).__name__}: {exc}", code="internal"))

    def _check_output(self, function: FunctionRecord, outcome: Outcome) -> Outcome:
        try:
            size = len(json.dumps(outcome.data, default=str))
        except (TypeError, ValueError) as exc:
            outcome.error = FunctionError(f"output is not JSON: {exc}", code="internal")
            return outcome
        limit = self.rt.settings.max_output_bytes
        if size > limit:
            outcome.error = FunctionError(
                f"output is {size} bytes, larger than the {limit}-byte limit", code="validation"
            )
            outcome.data = None
            return outcome
        if function.output_schema:
            errors = field_errors(function.output_schema, outcome.data)
            if errors:
                outcome.error = FunctionError(
                    f"output of {function.slug!r} does not match its output_schema: "
                    f"{errors[0]['message']} at {errors[0]['field']}",
                    code="validation",
                    details={"errors": errors},
                )
                outcome.data = None
        return outcome

    def _response(
        self, function: FunctionRecord, outcome: Outcome, secrets: list[str], started: float
    ) -> ExecuteResponse:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        error = outcome.error
        details = error.details if error is not None else None
        job_name, pod_name = outcome.job_name, outcome.pod_name
        if isinstance(details, dict):
            job_name = job_name or details.get("job_name")
            pod_name = pod_name or details.get("pod_name")
        return ExecuteResponse(
            success=error is None,
            data=redact(outcome.data, secrets) if error is None else None,
            error=redact_text(error.message, secrets) if error is not None else None,
            duration_ms=duration_ms,
            error_code=error.code if error is not None else None,
            retryable=error.retryable if error is not None else None,
            retry_after_seconds=error.retry_after if error is not None else None,
            error_details=redact(details, secrets),
            job_name=job_name,
            pod_name=pod_name,
            function_version=function.version,
            attempts=outcome.attempts,
        )

    async def _record(self, request: ExecuteRequest, response: ExecuteResponse) -> None:
        values = {
            "idempotency_key": request.idempotency_key,
            "function_slug": request.function_slug,
            "execution_id": request.execution_id,
            "node_id": request.node_id,
            "response": response.model_dump(mode="json"),
        }
        async with self.rt.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(insert(_RESULTS).on_conflict_do_nothing(), values)


def _failure_outcome(exc: FunctionError) -> Outcome:
    return Outcome(error=exc)
