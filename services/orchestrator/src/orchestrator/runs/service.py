"""What the v2 API does: business rules over the workflow client and execution records."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import math
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import jsonschema
from dapr.ext.workflow import WorkflowState
from dapr.ext.workflow.aio import DaprWorkflowClient
from pydantic import ValidationError
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.auth import Action, Authenticator, Principal
from orchestrator.interpreter import contracts as c
from orchestrator.interpreter.inline import InstantRun, may_run_instantly, run_instantly
from orchestrator.records.models import IdempotencyKey, Run, RunLabel, RunNode, RunSecret
from orchestrator.records.store import TERMINAL_STATUSES, RecordStore, redact, utcnow
from orchestrator.runs import schemas as s
from orchestrator.secrets_box import SecretsBox
from orchestrator.settings import Settings
from service_kit.problems import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from workflow_core.graph import Graph
from workflow_core.model import WorkflowDefinition
from workflow_core.nodes import ApprovalNode, ApprovalResponse, parse_node
from workflow_core.validation import validate_document

_log = logging.getLogger("orchestrator.runs")
ACTIVE_STATUSES = ("PENDING", "RUNNING", "SUSPENDED")


def new_instance_id(workflow_id: str) -> str:
    """``<workflow>-<unix ms>-<random>``, the shape of seed 003's example ids."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in workflow_id)[:120]
    return f"{safe}-{int(time.time() * 1000)}-{secrets.token_hex(3)}"


def body_hash(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


_VALID_DEFINITIONS: OrderedDict[str, None] = OrderedDict()
_VALID_DEFINITIONS_MAX = 512
"""Digests of definitions that passed validation: validation is a pure function of the
document, and the same few definitions are started over and over."""


def _digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.lru_cache(maxsize=256)
def _schema_validator(schema_json: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json))


class Started(NamedTuple):
    response: s.StartResponse
    replayed: bool
    """An earlier start with the same Idempotency-Key and body."""
    finished: s.StatusResponse | None = None
    """The final status of an instant run (it is over before the start answers)."""


class RunService:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: RecordStore,
        client: DaprWorkflowClient,
        secrets_box: SecretsBox,
        authenticator: Authenticator,
        admin_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.admin_http = admin_http
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.client = client
        self.secrets = secrets_box
        self.auth = authenticator

    # --- start --------------------------------------------------------------------------

    def check_definition(self, raw: dict[str, Any]) -> WorkflowDefinition:
        nodes = raw.get("nodes")
        if isinstance(nodes, list) and len(nodes) > self.settings.max_nodes_per_definition:
            raise PayloadTooLarge(
                f"the definition has {len(nodes)} nodes; the limit is {self.settings.max_nodes_per_definition}"
            )
        digest = _digest(raw)
        if digest not in _VALID_DEFINITIONS:
            report = validate_document(raw)
            if not report.ok:
                raise Unprocessable(
                    f"the workflow definition is invalid: {len(report.errors)} error(s)",
                    errors=[i.model_dump(by_alias=True, exclude_none=True) for i in report.errors],
                )
            _VALID_DEFINITIONS[digest] = None
            if len(_VALID_DEFINITIONS) > _VALID_DEFINITIONS_MAX:
                _VALID_DEFINITIONS.popitem(last=False)
        else:
            _VALID_DEFINITIONS.move_to_end(digest)
        return WorkflowDefinition.model_validate(raw)

    @staticmethod
    def check_trigger_data(definition: WorkflowDefinition, trigger_data: Any) -> None:
        for node in definition.nodes:
            if node.type != "trigger":
                continue
            schema = node.config.get("inputSchema")
            if not isinstance(schema, dict):
                return
            validator = _schema_validator(json.dumps(schema, sort_keys=True))
            errors = sorted(
                validator.iter_errors(trigger_data), key=lambda e: list(e.absolute_path)
            )
            if errors:
                raise Unprocessable(
                    f"triggerData does not match the trigger's input schema: {errors[0].message}",
                    errors=[
                        {
                            "loc": ["triggerData", *map(str, e.absolute_path)],
                            "pointer": "/" + "/".join(map(str, e.absolute_path)),
                            "message": e.message,
                            "nodeId": node.id,
                        }
                        for e in errors[:50]
                    ],
                )
            return

    def resolve_labels(
        self, principal: Principal, requested: dict[str, str] | None
    ) -> dict[str, str]:
        labels = dict(requested or {})
        for reserved in ("parentInstanceId", "parentNodeId", "replayOf", "rerunOf"):
            labels.pop(reserved, None)
        if principal.kind == "api_key":
            if labels.get("projectId") not in (None, principal.project_id):
                raise NotFound("project not found")
            labels["projectId"] = str(principal.project_id)
        return labels

    async def check_quota(self, labels: dict[str, str]) -> None:
        project = labels.get("projectId")
        if project is None:
            return
        async with self.sessions() as session:
            active = (
                await session.execute(
                    select(func.count())
                    .select_from(Run)
                    .where(Run.project_id == project, Run.runtime_status.in_(ACTIVE_STATUSES))
                )
            ).scalar_one()
        if active >= self.settings.max_active_runs_per_project:
            raise TooManyRequests(
                f"project {project} already has {active} active runs "
                f"(limit {self.settings.max_active_runs_per_project})",
                retry_after=5,
            )

    async def start(
        self,
        principal: Principal,
        request: s.StartRequest,
        *,
        idempotency_key: str | None = None,
        trace_parent: str | None = None,
        replay_of: str | None = None,
        rerun_of: str | None = None,
        rerun_from: str | None = None,
        reuse: dict[str, c.ReusedNode] | None = None,
        labels: dict[str, str] | None = None,
    ) -> Started:
        """Start a run (or, with a used Idempotency-Key, find the one it started)."""
        definition = self.check_definition(request.definition)
        self.check_trigger_data(definition, request.trigger_data)
        labels = labels if labels is not None else self.resolve_labels(principal, request.labels)
        if labels.get("projectId") and not await self.auth.may(principal, labels, "run"):
            raise NotFound(f"project {labels['projectId']} not found")
        instance_id = new_instance_id(definition.id)
        scope = f"{principal.kind}:{principal.subject}"
        if idempotency_key is not None:
            existing = await self._claim_idempotency(
                scope,
                idempotency_key,
                request.model_dump(mode="json", by_alias=True),
                instance_id,
                definition.id,
            )
            if existing is not None:
                return Started(existing, True)
        try:
            await self.check_quota(labels)
            finished = await self._create_and_schedule(
                instance_id,
                definition,
                request,
                labels,
                trace_parent=trace_parent,
                replay_of=replay_of,
                rerun_of=rerun_of,
                rerun_from=rerun_from,
                reuse=reuse or {},
            )
        except Exception:
            if idempotency_key is not None:
                await self._release_idempotency(scope, idempotency_key)
            raise
        return Started(
            s.StartResponse(instance_id=instance_id, workflow_id=definition.id), False, finished
        )

    async def _create_and_schedule(
        self,
        instance_id: str,
        definition: WorkflowDefinition,
        request: s.StartRequest,
        labels: dict[str, str],
        **extra: Any,
    ) -> s.StatusResponse | None:
        """Record the run and hand it to the engine; an instant run is evaluated and
        recorded finished instead (and its final status returned)."""
        options = c.RunOptions(
            max_concurrency=(
                request.options.max_concurrency
                if request.options and request.options.max_concurrency
                else self.settings.max_concurrency_per_run
            )
        )
        run_input = c.RunInput(
            definition=request.definition,
            trigger_data=request.trigger_data,
            labels=labels,
            options=options,
            trace_parent=extra["trace_parent"],
            reuse=extra["reuse"],
        )
        instant: InstantRun | None = None
        now = utcnow()
        if self.settings.instant_runs and may_run_instantly(definition):
            instant = run_instantly(instance_id, run_input.dump(), now)
        await self.store.create_run(
            instance_id=instance_id,
            workflow_id=definition.id,
            name=definition.name,
            definition=request.definition,
            trigger_data=request.trigger_data,
            labels=labels,
            replay_of=extra["replay_of"],
            rerun_of=extra["rerun_of"],
            rerun_from=extra["rerun_from"],
            finished=instant.finish.records(now.isoformat()) if instant else (),
            result=instant.result.result if instant and instant.result else None,
        )
        if request.integrations:
            await self._seal_integrations(instance_id, request.integrations)
        if instant is not None:
            return await self._instant_status(instance_id, definition, labels, instant, now)
        try:
            await self.client.schedule_new_workflow(
                c.WORKFLOW_NAME, input=run_input.dump(), instance_id=instance_id
            )
        except Exception as exc:
            await self.store.delete_run(instance_id)
            raise ServiceUnavailable(f"the workflow engine did not accept the run: {exc}") from None
        return None

    async def _instant_status(
        self,
        instance_id: str,
        definition: WorkflowDefinition,
        labels: dict[str, str],
        instant: InstantRun,
        now: datetime,
    ) -> s.StatusResponse:
        """What the status of the just-recorded instant run says (without reading it back)."""
        finish = instant.finish
        result = instant.result
        return s.StatusResponse(
            instance_id=instance_id,
            workflow_id=definition.id,
            runtime_status=instant.runtime_status,
            phase=finish.phase,
            progress=100,
            message=finish.message,
            # As for any run: the workflow's outputs, or the recorded ones when it failed.
            outputs=redact(result.outputs if result else await self._recorded_outputs(instance_id)),
            result=redact(result.result) if result else None,
            error=instant.failure if instant.runtime_status == "FAILED" else None,
            started_at=now,
            completed_at=now,
            labels=labels,
            parent_instance_id=None,
        )

    async def _seal_integrations(self, instance_id: str, integrations: dict[str, Any]) -> None:
        nonce, ciphertext = self.secrets.seal(instance_id, integrations)
        async with self.sessions() as session, session.begin():
            session.add(
                RunSecret(
                    instance_id=instance_id,
                    key_id=self.secrets.key_id,
                    nonce=nonce,
                    ciphertext=ciphertext,
                )
            )

    async def _claim_idempotency(
        self, scope: str, key: str, payload: Any, instance_id: str, workflow_id: str
    ) -> s.StartResponse | None:
        digest = body_hash(payload)
        horizon = utcnow() - timedelta(hours=self.settings.idempotency_ttl_hours)
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == scope,
                    IdempotencyKey.key == key,
                    IdempotencyKey.created_at < horizon,
                )
            )
        try:
            async with self.sessions() as session, session.begin():
                session.add(
                    IdempotencyKey(
                        scope=scope,
                        key=key,
                        body_hash=digest,
                        instance_id=instance_id,
                        workflow_id=workflow_id,
                        created_at=utcnow(),
                    )
                )
            return None
        except IntegrityError:
            pass
        async with self.sessions() as session:
            row = await session.get(IdempotencyKey, (scope, key))
        if row is None:  # released by a failed start in between: retry once
            return await self._claim_idempotency(scope, key, payload, instance_id, workflow_id)
        if row.body_hash != digest:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body",
                instanceId=row.instance_id,
            )
        return s.StartResponse(instance_id=row.instance_id, workflow_id=row.workflow_id)

    async def _release_idempotency(self, scope: str, key: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.scope == scope, IdempotencyKey.key == key
                )
            )

    # --- reading a run ------------------------------------------------------------------

    async def get_run(self, principal: Principal, instance_id: str, action: Action = "read") -> Run:
        async with self.sessions() as session:
            run = await session.get(Run, instance_id)
        if run is None:
            raise NotFound(f"run {instance_id!r} not found")
        await self.auth.require(principal, dict(run.labels or {}), action, f"run {instance_id!r}")
        return run

    async def workflow_state(self, instance_id: str) -> WorkflowState | None:
        try:
            return await self.client.get_workflow_state(instance_id, fetch_payloads=True)
        except Exception as exc:
            raise ServiceUnavailable(f"the workflow engine is unreachable: {exc}") from None

    async def status(self, principal: Principal, instance_id: str) -> s.StatusResponse:
        run = await self.get_run(principal, instance_id)
        state = await self.workflow_state(instance_id)
        if state is None:
            return await self._status_from_records(run)
        return await self._status_from_state(run, state)

    async def wait_for_completion(
        self, principal: Principal, instance_id: str, seconds: float
    ) -> s.StatusResponse | None:
        """The run's status once it finished, or ``None`` if it is still going after
        ``seconds`` (a long poll on the workflow engine, not a polling loop)."""
        run = await self.get_run(principal, instance_id)
        if run.runtime_status in TERMINAL_STATUSES:
            state = await self.workflow_state(instance_id)
            if state is None:  # an instant run, or purged from the engine
                return await self._status_from_records(run)
        try:
            async with asyncio.timeout(seconds):  # keeps a cancellation (gh-86296)
                state = await self.client.wait_for_workflow_completion(
                    instance_id, fetch_payloads=True, timeout_in_seconds=math.ceil(seconds) + 1
                )
        except TimeoutError:
            return None
        if state is None:
            return None
        async with self.sessions() as session:  # the row as the run's end left it
            run = await session.get(Run, instance_id) or run
        return await self._status_from_state(run, state)

    async def _status_from_state(self, run: Run, state: WorkflowState) -> s.StatusResponse:
        instance_id = run.instance_id
        runtime = state.runtime_status.name
        custom = _json(state.serialized_custom_status) or {}
        output = _json(state.serialized_output)
        failure = state.failure_details.message if state.failure_details else None
        if runtime in TERMINAL_STATUSES and run.runtime_status not in TERMINAL_STATUSES:
            await self._heal(run, runtime, custom, failure)
        phase = _phase(runtime, custom, output)
        outputs = (
            output.get("outputs")
            if isinstance(output, dict) and isinstance(output.get("outputs"), dict)
            else None
        )
        if outputs is None:
            outputs = await self._recorded_outputs(instance_id)
        pending = custom.get("pendingApproval") if runtime in ("RUNNING", "SUSPENDED") else None
        current = (
            list(custom.get("currentNodeIds") or [])
            if runtime in ("RUNNING", "SUSPENDED", "PENDING")
            else []
        )
        message = custom.get("message") or (
            output.get("message") if isinstance(output, dict) else None
        )
        if runtime == "TERMINATED":
            message = message or "terminated"
        return s.StatusResponse(
            instance_id=instance_id,
            workflow_id=run.workflow_id,
            runtime_status=runtime
            if runtime in ("RUNNING", "COMPLETED", "FAILED", "TERMINATED", "PENDING", "SUSPENDED")
            else "RUNNING",
            phase=phase,
            progress=100 if runtime in TERMINAL_STATUSES else int(custom.get("progress") or 0),
            message=message,
            current_node_id=current[0] if current else None,
            current_node_ids=current,
            pending_approval=s.PendingApproval.model_validate(pending) if pending else None,
            outputs=redact(outputs),
            result=redact(output.get("result")) if isinstance(output, dict) else None,
            error=failure if runtime == "FAILED" else None,
            started_at=_aware(state.created_at),
            completed_at=_aware(state.last_updated_at) if runtime in TERMINAL_STATUSES else None,
            labels=dict(run.labels or {}),
            parent_instance_id=run.parent_instance_id,
        )

    async def _status_from_records(self, run: Run) -> s.StatusResponse:
        """The engine no longer knows the run (purged there): answer from the records."""
        return s.StatusResponse(
            instance_id=run.instance_id,
            workflow_id=run.workflow_id,
            runtime_status=_runtime_status(run.runtime_status),
            phase=run.phase,
            progress=run.progress,
            message=run.message,
            outputs=redact(await self._recorded_outputs(run.instance_id)),
            result=redact(run.result),
            error=run.error,
            started_at=run.started_at or run.created_at,
            completed_at=run.completed_at,
            labels=dict(run.labels or {}),
            parent_instance_id=run.parent_instance_id,
        )

    async def _recorded_outputs(self, instance_id: str) -> dict[str, Any]:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(RunNode.node_key, RunNode.output).where(
                        RunNode.instance_id == instance_id,
                        RunNode.status.in_(("completed", "failed")),
                    )
                )
            ).all()
        return {
            key: output
            for key, output in rows
            if output is not None and "[" not in key and "#" not in key
        }

    async def _heal(
        self, run: Run, runtime: str, custom: dict[str, Any], failure: str | None
    ) -> None:
        """The engine finished a run whose final record never landed (e.g. terminated or
        crashed outside the workflow's control): write it now."""
        kind = {
            "COMPLETED": "run.completed",
            "FAILED": "run.failed",
            "TERMINATED": "run.terminated",
        }[runtime]
        phase = {
            "COMPLETED": custom.get("phase") or "completed",
            "FAILED": "failed",
            "TERMINATED": "cancelled",
        }[runtime]
        event = c.EventRecord(
            eid=f"heal:{run.instance_id}:{runtime}",
            type=kind,
            at=utcnow().isoformat(),
            data={"phase": phase, "error": failure, "message": failure, "reason": "terminated"},
        )
        await self.store.record(run.instance_id, [event])

    # --- events, approvals, control -----------------------------------------------------

    async def _require_active(
        self, principal: Principal, instance_id: str, action: Action
    ) -> tuple[Run, WorkflowState]:
        run = await self.get_run(principal, instance_id, action)
        state = await self.workflow_state(instance_id)
        if state is None and run.runtime_status in TERMINAL_STATUSES:
            raise Conflict(f"run {instance_id!r} already finished ({run.runtime_status})")
        if state is None:
            raise Conflict(f"run {instance_id!r} is no longer known to the workflow engine")
        if state.runtime_status.name in TERMINAL_STATUSES:
            raise Conflict(f"run {instance_id!r} already finished ({state.runtime_status.name})")
        return run, state

    def approval_gates(self, run: Run) -> dict[str, ApprovalNode]:
        definition = WorkflowDefinition.model_validate(run.definition or {"id": run.workflow_id})
        gates: dict[str, ApprovalNode] = {}
        for node in definition.nodes:
            if node.kind == "approval-gate":
                try:
                    typed = parse_node(node)
                except ValidationError:
                    continue
                assert isinstance(typed, ApprovalNode)
                gates[node.id] = typed
        return gates

    async def raise_event(
        self, principal: Principal, instance_id: str, request: s.RaiseEventRequest
    ) -> s.AcceptedResponse:
        run, _state = await self._require_active(principal, instance_id, "approve")
        data = request.event_data
        answered: dict[str, Any] | None = None
        for gate in self.approval_gates(run).values():
            if gate.event_name.lower() == request.event_name.lower():
                try:
                    response = ApprovalResponse.model_validate(data)
                except ValidationError as exc:
                    raise Unprocessable(
                        f"event {request.event_name!r} answers approval gate {gate.id!r}; its eventData must be "
                        "{approved: boolean, reason?: string, respondedBy?: string}",
                        errors=[
                            {"loc": ["eventData", *map(str, e["loc"])], "message": e["msg"]}
                            for e in exc.errors()
                        ],
                    ) from None
                data = response.model_dump(by_alias=True, exclude_none=True)
                data.setdefault("respondedBy", principal.subject)
                answered = {
                    "nodeId": gate.id,
                    "approved": response.approved,
                    "reason": response.reason,
                }
        await self.client.raise_workflow_event(instance_id, request.event_name, data=data)
        if answered is not None:
            await self._audit_in_admin_api(principal, run, "execution.approval", answered)
        await self._audit(
            instance_id, "event.raised", eventName=request.event_name, by=principal.subject
        )
        return s.AcceptedResponse(instance_id=instance_id, status="event raised")

    async def approve(
        self, principal: Principal, instance_id: str, node_id: str, request: s.ApprovalRequest
    ) -> s.AcceptedResponse:
        run, state = await self._require_active(principal, instance_id, "approve")
        gate = self.approval_gates(run).get(node_id)
        if gate is None:
            raise NotFound(f"run {instance_id!r} has no approval gate {node_id!r}")
        custom = _json(state.serialized_custom_status) or {}
        waiting = await self._node_status(instance_id, node_id)
        pending = custom.get("pendingApproval") or {}
        if waiting != "waiting" and pending.get("nodeId") != node_id:
            raise Conflict(
                f"approval gate {node_id!r} is not waiting for an answer (it is {waiting or 'not started'})"
            )
        payload = {
            "approved": request.approved,
            "reason": request.reason,
            "respondedBy": principal.subject,
        }
        await self.client.raise_workflow_event(instance_id, gate.event_name, data=payload)
        await self._audit(
            instance_id,
            "approval.submitted",
            nodeId=node_id,
            approved=request.approved,
            by=principal.subject,
        )
        await self._audit_in_admin_api(
            principal,
            run,
            "execution.approval",
            {"nodeId": node_id, "approved": request.approved, "reason": request.reason},
        )
        return s.AcceptedResponse(
            instance_id=instance_id, status="approved" if request.approved else "rejected"
        )

    async def _node_status(self, instance_id: str, node_key: str) -> str | None:
        async with self.sessions() as session:
            row = await session.get(RunNode, (instance_id, node_key))
        return row.status if row else None

    async def terminate(self, principal: Principal, instance_id: str) -> s.AcceptedResponse:
        run, _state = await self._require_active(principal, instance_id, "control")
        await self.client.terminate_workflow(instance_id, recursive=True)
        await self._audit(
            instance_id,
            "run.terminated",
            reason=f"terminated by {principal.subject}",
            by=principal.subject,
        )
        await self._audit_in_admin_api(principal, run, "execution.terminate", {})
        return s.AcceptedResponse(instance_id=instance_id, status="terminated")

    async def pause(self, principal: Principal, instance_id: str) -> s.AcceptedResponse:
        _run, state = await self._require_active(principal, instance_id, "control")
        if state.runtime_status.name == "SUSPENDED":
            raise Conflict(f"run {instance_id!r} is already paused")
        await self.client.pause_workflow(instance_id)
        await self._audit(instance_id, "run.suspended", by=principal.subject)
        return s.AcceptedResponse(instance_id=instance_id, status="paused")

    async def resume(self, principal: Principal, instance_id: str) -> s.AcceptedResponse:
        _run, state = await self._require_active(principal, instance_id, "control")
        if state.runtime_status.name != "SUSPENDED":
            raise Conflict(f"run {instance_id!r} is not paused")
        await self.client.resume_workflow(instance_id)
        await self._audit(instance_id, "run.resumed", by=principal.subject)
        return s.AcceptedResponse(instance_id=instance_id, status="resumed")

    async def purge(self, principal: Principal, instance_id: str, force: bool) -> None:
        run = await self.get_run(principal, instance_id, "purge")
        state = await self.workflow_state(instance_id)
        if state is not None and state.runtime_status.name not in TERMINAL_STATUSES:
            if not force:
                raise Conflict(
                    f"run {instance_id!r} is still {state.runtime_status.name}; terminate it first or use ?force=true"
                )
            await self.client.terminate_workflow(instance_id, recursive=True)
        if state is not None:
            await self.client.purge_workflow(instance_id, recursive=True)
        async with self.sessions() as session:
            children = (
                (
                    await session.execute(
                        select(Run.instance_id).where(Run.parent_instance_id == run.instance_id)
                    )
                )
                .scalars()
                .all()
            )
        for child in [*children, instance_id]:
            await self.store.delete_run(child)

    async def _audit_in_admin_api(
        self, principal: Principal, run: Run, action: str, detail: dict[str, Any]
    ) -> None:
        """Approvals and stops also go to admin-api's audit log (best effort: the run's own
        records keep them either way)."""
        if self.admin_http is None or principal.kind == "dev":
            return
        labels = dict(run.labels or {})
        event: dict[str, Any] = {
            "action": action,
            "actorKind": "api_key" if principal.kind == "api_key" else principal.kind,
            "actorLabel": principal.subject[:320],
            "resourceType": "execution",
            "detail": {"instanceId": run.instance_id, "workflowId": run.workflow_id, **detail},
        }
        if principal.kind in ("user", "api_key") and len(principal.subject) <= 64:
            event["actorId"] = principal.subject
        if len(run.instance_id) <= 64:
            event["resourceId"] = run.instance_id
        if labels.get("companyId"):
            event["tenant"] = {
                k: labels[k] for k in ("companyId", "organizationId", "projectId") if labels.get(k)
            }
        try:
            response = await self.admin_http.post("/api/v1/internal/audit-events", json=event)
        except httpx.HTTPError as exc:
            _log.warning("could not send an audit event to admin-api: %s", exc)
            return
        if response.status_code >= 300:
            _log.warning(
                "admin-api refused an audit event (%s): %s",
                response.status_code,
                response.text[:300],
            )

    async def _audit(self, instance_id: str, kind: str, **data: Any) -> None:
        event = c.EventRecord(
            eid=f"api:{instance_id}:{kind}:{secrets.token_hex(6)}",
            type=kind,
            at=utcnow().isoformat(),
            data=data,
        )
        await self.store.record(instance_id, [event])

    # --- listing --------------------------------------------------------------------------

    async def list_runs(
        self,
        principal: Principal,
        *,
        workflow_id: str | None,
        status: list[str],
        phase: list[str],
        labels: list[str],
        created_from: datetime | None,
        created_to: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> s.RunPage:
        query = select(Run)
        label_filters = [_parse_label(raw) for raw in labels]
        if principal.kind == "api_key":
            label_filters.append(("projectId", str(principal.project_id)))
        elif not principal.unrestricted:
            projects = [v for k, v in label_filters if k == "projectId"]
            if not projects:
                raise BadRequest("filter by project: add label=projectId:<id>")
            for project in projects:
                if not await self.auth.may(principal, {"projectId": project}, "read"):
                    raise NotFound(f"project {project} not found")
        for key, value in label_filters:
            query = query.where(
                Run.instance_id.in_(
                    select(RunLabel.instance_id).where(RunLabel.key == key, RunLabel.value == value)
                )
            )
        if workflow_id:
            query = query.where(Run.workflow_id == workflow_id)
        if status:
            query = query.where(Run.runtime_status.in_([x.upper() for x in status]))
        if phase:
            query = query.where(Run.phase.in_(phase))
        if created_from:
            query = query.where(Run.created_at >= created_from)
        if created_to:
            query = query.where(Run.created_at < created_to)
        if cursor:
            at, last_id = _decode_cursor(cursor)
            query = query.where(
                or_(Run.created_at < at, and_(Run.created_at == at, Run.instance_id < last_id))
            )
        query = query.order_by(Run.created_at.desc(), Run.instance_id.desc()).limit(limit + 1)
        async with self.sessions() as session:
            rows = list((await session.execute(query)).scalars())
        more = len(rows) > limit
        rows = rows[:limit]
        return s.RunPage(
            items=[_summary(r) for r in rows],
            next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
        )

    # --- timeline -------------------------------------------------------------------------

    async def timeline(self, principal: Principal, instance_id: str) -> s.Timeline:
        run = await self.get_run(principal, instance_id)
        async with self.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(RunNode)
                        .where(RunNode.instance_id == instance_id)
                        .order_by(RunNode.order)
                    )
                ).scalars()
            )
        definition = WorkflowDefinition.model_validate(run.definition or {"id": run.workflow_id})
        order = {n.id: i for i, n in enumerate(definition.nodes)}
        by_key = {r.node_key: r for r in rows}
        nodes: list[s.TimelineNode] = []
        for node in definition.nodes:
            if node.id not in by_key:
                nodes.append(
                    s.TimelineNode(
                        node_key=node.id,
                        node_id=node.id,
                        label=node.label,
                        type=node.type,
                        status="pending",
                        attempts=0,
                    )
                )
        for row in rows:
            if row.node_key.endswith("#compensate"):
                continue
            nodes.append(_timeline_node(row, by_key.get(f"{row.node_key}#compensate")))
        nodes.sort(
            key=lambda n: (order.get(n.node_id, len(order)), n.node_key != n.node_id, n.node_key)
        )
        return s.Timeline(
            instance_id=run.instance_id,
            workflow_id=run.workflow_id,
            runtime_status=run.runtime_status,
            phase=run.phase,
            started_at=run.started_at,
            completed_at=run.completed_at,
            nodes=nodes,
        )

    # --- rerun and replay -----------------------------------------------------------------

    async def rerun(
        self,
        principal: Principal,
        instance_id: str,
        request: s.RerunRequest,
        trace_parent: str | None,
    ) -> s.DerivedRunResponse:
        run = await self.get_run(principal, instance_id, "run")
        if run.runtime_status not in TERMINAL_STATUSES:
            raise Conflict(
                f"run {instance_id!r} is still {run.runtime_status}; rerun a finished run"
            )
        definition = WorkflowDefinition.model_validate(run.definition or {})
        if request.from_node_id not in {n.id for n in definition.nodes}:
            raise Unprocessable(
                f"the run's workflow has no node {request.from_node_id!r}",
                errors=[{"loc": ["body", "fromNodeId"], "message": "unknown node id"}],
            )
        graph = Graph.from_definition(definition)
        rerun_set = graph.downstream(request.from_node_id) | {request.from_node_id}
        async with self.sessions() as session:
            rows = {
                r.node_key: r
                for r in (
                    await session.execute(select(RunNode).where(RunNode.instance_id == instance_id))
                ).scalars()
            }
        reuse: dict[str, c.ReusedNode] = {}
        for node in definition.nodes:
            row = rows.get(node.id)
            if node.id in rerun_set or row is None:
                continue
            if row.status == "completed":
                reuse[node.id] = c.ReusedNode(
                    status="completed", output=row.output, route=(row.detail or {}).get("route")
                )
            elif row.status == "skipped" and (row.detail or {}).get("reason") == "branch not taken":
                reuse[node.id] = c.ReusedNode(status="skipped")
            elif row.status == "failed" and (row.detail or {}).get("continued"):
                reuse[node.id] = c.ReusedNode(status="failed", output=row.output)
        request_body = s.StartRequest(
            definition=run.definition or {},
            trigger_data=run.trigger_data,
            labels=dict(run.labels or {}),
            integrations=await self._integrations_of(instance_id),
        )
        labels = {**dict(run.labels or {}), "rerunOf": instance_id}
        started, _, _ = await self.start(
            principal,
            request_body,
            trace_parent=trace_parent,
            rerun_of=instance_id,
            rerun_from=request.from_node_id,
            reuse=reuse,
            labels=labels,
        )
        return s.DerivedRunResponse(
            instance_id=started.instance_id,
            workflow_id=started.workflow_id,
            source_instance_id=instance_id,
            reused_node_ids=list(reuse),
        )

    async def replay(
        self,
        principal: Principal,
        instance_id: str,
        request: s.ReplayRequest,
        has_trigger: bool,
        trace_parent: str | None,
    ) -> s.DerivedRunResponse:
        run = await self.get_run(principal, instance_id, "run")
        trigger = request.trigger_data if has_trigger else run.trigger_data
        request_body = s.StartRequest(
            definition=run.definition or {},
            trigger_data=trigger,
            labels=dict(run.labels or {}),
            integrations=await self._integrations_of(instance_id),
        )
        labels = {**dict(run.labels or {}), "replayOf": instance_id}
        started, _, _ = await self.start(
            principal, request_body, trace_parent=trace_parent, replay_of=instance_id, labels=labels
        )
        return s.DerivedRunResponse(
            instance_id=started.instance_id,
            workflow_id=started.workflow_id,
            source_instance_id=instance_id,
        )

    async def _integrations_of(self, instance_id: str) -> dict[str, Any] | None:
        """The credentials a run was started with, for a rerun or replay of it (sealed for
        the new run before it is scheduled, so its first action already finds them)."""
        async with self.sessions() as session:
            secret = await session.get(RunSecret, instance_id)
        if secret is None:
            return None
        value = self.secrets.open(instance_id, secret.nonce, secret.ciphertext)
        return value if isinstance(value, dict) and value else None

    # --- diff -----------------------------------------------------------------------------

    async def diff(self, principal: Principal, left: str, right: str) -> s.RunDiff:
        left_run = await self.get_run(principal, left)
        right_run = await self.get_run(principal, right)
        async with self.sessions() as session:
            left_nodes = {
                r.node_key: r
                for r in (
                    await session.execute(select(RunNode).where(RunNode.instance_id == left))
                ).scalars()
            }
            right_nodes = {
                r.node_key: r
                for r in (
                    await session.execute(select(RunNode).where(RunNode.instance_id == right))
                ).scalars()
            }
        diffs: list[s.NodeDiff] = []
        unchanged: list[str] = []
        for key in sorted(set(left_nodes) | set(right_nodes)):
            a, b = _side(left_nodes.get(key)), _side(right_nodes.get(key))
            changed = [
                f
                for f in ("status", "output", "error", "attempts")
                if getattr(a, f) != getattr(b, f)
            ]
            if changed:
                diffs.append(s.NodeDiff(node_key=key, changed=changed, left=a, right=b))
            else:
                unchanged.append(key)
        run_fields = {}
        for name in ("runtime_status", "phase", "error", "trigger_data", "workflow_id"):
            lv, rv = getattr(left_run, name), getattr(right_run, name)
            if lv != rv:
                run_fields[_camel(name)] = {"left": lv, "right": rv}
        return s.RunDiff(
            left=left,
            right=right,
            same_definition=body_hash(left_run.definition) == body_hash(right_run.definition),
            run=run_fields,
            nodes=diffs,
            unchanged_node_keys=unchanged,
        )


# --- helpers ------------------------------------------------------------------------------


def _runtime_status(value: str) -> s.RuntimeStatus:
    for known in ("RUNNING", "COMPLETED", "FAILED", "TERMINATED", "PENDING", "SUSPENDED"):
        if value == known:
            return known
    return "PENDING"


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _phase(runtime: str, custom: dict[str, Any], output: Any) -> str:
    if runtime == "COMPLETED":
        return (
            str(output.get("phase"))
            if isinstance(output, dict) and output.get("phase")
            else "completed"
        )
    if runtime == "FAILED":
        return "failed"
    if runtime == "TERMINATED":
        return "cancelled"
    if runtime == "PENDING":
        return "pending"
    return str(custom.get("phase") or "running")


def _parse_label(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition(":")
    if not sep or not key or not value:
        raise BadRequest(f"label filter {raw!r} must look like key:value")
    return key, value


def _encode_cursor(run: Run) -> str:
    raw = json.dumps([run.created_at.isoformat(), run.instance_id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, instance_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(instance_id)
    except (ValueError, TypeError):
        raise BadRequest("cursor is not one this API returned") from None


def _duration_ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end.replace(tzinfo=None) - start.replace(tzinfo=None)).total_seconds() * 1000, 2)


def _summary(run: Run) -> s.RunSummary:
    return s.RunSummary(
        instance_id=run.instance_id,
        workflow_id=run.workflow_id,
        name=run.name,
        runtime_status=run.runtime_status,
        phase=run.phase,
        progress=run.progress,
        message=run.message,
        error=run.error,
        labels=dict(run.labels or {}),
        created_at=run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC),
        started_at=_aware(run.started_at),
        completed_at=_aware(run.completed_at),
        duration_ms=_duration_ms(run.started_at, run.completed_at),
        parent_instance_id=run.parent_instance_id,
        replay_of=run.replay_of,
        rerun_of=run.rerun_of,
    )


def _timeline_node(row: RunNode, compensation_row: RunNode | None) -> s.TimelineNode:
    detail = dict(row.detail or {})
    compensation = detail.get("compensation")
    if compensation_row is not None:
        compensation = {
            **(compensation or {}),
            "attempts": compensation_row.attempts,
            "startedAt": _aware(compensation_row.started_at),
            "completedAt": _aware(compensation_row.completed_at),
            "input": compensation_row.input,
            "error": compensation_row.error,
        }
    parent = None
    if "." in row.node_key or "[" in row.node_key:
        parent = row.node_key.split("[")[0]
    return s.TimelineNode(
        node_key=row.node_key,
        node_id=row.node_id,
        label=row.label,
        type=row.node_type,
        status=row.status,
        attempts=row.attempts,
        started_at=_aware(row.started_at),
        completed_at=_aware(row.completed_at),
        duration_ms=_duration_ms(row.started_at, row.completed_at),
        input=row.input,
        output=row.output,
        error=row.error,
        route=detail.get("route"),
        reason=detail.get("reason"),
        parent_key=parent,
        compensation=compensation,
        approval=detail.get("approval"),
        attempt_errors=list(detail.get("attemptErrors") or []),
        child_instance_id=detail.get("childInstanceId"),
    )


def _side(row: RunNode | None) -> s.NodeSide:
    if row is None:
        return s.NodeSide()
    return s.NodeSide(
        status=row.status,
        output=row.output,
        error=row.error,
        attempts=row.attempts,
        duration_ms=_duration_ms(row.started_at, row.completed_at),
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)
