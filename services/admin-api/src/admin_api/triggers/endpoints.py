"""Trigger routes: state and firings per workflow, the webhook secret (reveal/rotate,
audited), the internal webhook endpoint the BFF relays to, and the Dapr job callback."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from admin_api.audit.service import AuditDep
from admin_api.deps import CurrentActor, SessionDep
from admin_api.openapi import LIST_ERRORS, errors
from admin_api.pagination import Page, PageDep
from admin_api.permissions import Action
from admin_api.tenancy.access import Access, Authorize
from admin_api.triggers import service, webhook_intake
from admin_api.triggers.jobs import delivered_data
from admin_api.triggers.models import Trigger, WebhookSecret
from admin_api.triggers.schemas import (
    FiringOut,
    TriggerOut,
    WebhookAccepted,
    WebhookFinished,
    WebhookOut,
    WebhookSecretOut,
    webhook_path,
)
from admin_api.triggers.secrets import ensure_secret, rotate_secret
from admin_api.triggers.webhooks import UnsupportedMediaType
from service_kit.auth import dapr_caller_dependency
from service_kit.problems import (
    Conflict,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)

router = APIRouter(prefix="/api/v1", tags=["triggers"])
jobs_router = APIRouter(tags=["internal"])
_log = logging.getLogger("admin_api.triggers")

WorkflowReader = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_READ, "workflow", "workflowId"))
]
SecretKeeper = Annotated[
    Access, Depends(Authorize(Action.WEBHOOK_SECRET, "workflow", "workflowId"))
]


def _runtime(request: Request) -> service.Triggers:
    rt: service.Triggers = request.app.state.triggers
    return rt


def _out(row: Trigger) -> TriggerOut:
    out = TriggerOut.model_validate(row)
    if row.kind == "webhook":
        out.webhook_path = webhook_path(row.workflow_id)
    return out


@router.get(
    "/workflows/{workflowId}/triggers",
    responses=errors(),
    summary="The workflow's triggers: active or not, last and next firing, last error",
)
async def list_triggers(access: WorkflowReader, session: SessionDep) -> Page[TriggerOut]:
    rows = await service.triggers_of(session, access.resource_id)
    return Page(items=[_out(r) for r in rows], next_cursor=None)


@router.get(
    "/workflows/{workflowId}/triggers/firings",
    responses=LIST_ERRORS,
    summary="Every firing of the workflow's triggers (and manual runs), newest first",
)
async def list_firings(
    access: WorkflowReader, session: SessionDep, page: PageDep
) -> Page[FiringOut]:
    rows, cursor = await service.firings_page(session, access.resource_id, page)
    return Page(items=[FiringOut.model_validate(f) for f in rows], next_cursor=cursor)


async def _active_webhook(session: SessionDep, workflow_id: str) -> Trigger | None:
    for row in await service.triggers_of(session, workflow_id):
        if row.active and row.kind == "webhook":
            return row
    return None


@router.get(
    "/workflows/{workflowId}/webhook",
    responses=errors(),
    summary="The webhook's public path, auth mode and whether a secret exists",
)
async def get_webhook(access: WorkflowReader, session: SessionDep) -> WebhookOut:
    row = await _active_webhook(session, access.resource_id)
    options = service.config_of(row).webhook_options if row else None
    secret = await session.get(WebhookSecret, access.resource_id)
    return WebhookOut(
        path=webhook_path(access.resource_id),
        active=row is not None,
        auth=options.auth if options else None,
        mode=options.mode if options else None,
        has_secret=secret is not None,
    )


@router.post(
    "/workflows/{workflowId}/webhook/secret",
    responses=errors(ServiceUnavailable),
    summary="Reveal the webhook secret (created on first use; audited)",
)
async def reveal_secret(
    request: Request,
    access: SecretKeeper,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WebhookSecretOut:
    secret = await ensure_secret(session, _runtime(request).box, access.resource_id)
    audit.record(
        actor,
        "webhook.secret.reveal",
        resource_type="workflow",
        resource_id=access.resource_id,
        tenant=access.tenant,
    )
    return WebhookSecretOut(secret=secret, path=webhook_path(access.resource_id))


@router.post(
    "/workflows/{workflowId}/webhook/secret/rotate",
    responses=errors(ServiceUnavailable),
    summary="Replace the webhook secret (the new one is shown once here; audited)",
)
async def rotate(
    request: Request,
    access: SecretKeeper,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WebhookSecretOut:
    secret = await rotate_secret(session, _runtime(request).box, access.resource_id)
    audit.record(
        actor,
        "webhook.secret.rotate",
        resource_type="workflow",
        resource_id=access.resource_id,
        tenant=access.tenant,
    )
    return WebhookSecretOut(secret=secret, path=webhook_path(access.resource_id), rotated=True)


# --- internal: the BFF relays webhooks here ------------------------------------------------


def _webhook_callers(request: Request) -> list[str]:
    return list(request.app.state.settings.webhook_callers)


def _app_api_token(request: Request) -> str | None:
    token = request.app.state.settings.app_api_token
    return token.get_secret_value() if token is not None else None


WebhookRelay = Annotated[str, Depends(dapr_caller_dependency(_webhook_callers, _app_api_token))]


@router.post(
    "/internal/webhooks/{workflowId}",
    tags=["internal"],
    status_code=202,
    response_model=WebhookAccepted,
    responses={
        200: {"model": WebhookFinished, "description": "sync mode: the run ended in time"},
        **errors(Conflict, PayloadTooLarge, UnsupportedMediaType, TooManyRequests),
    },
    summary="A webhook request relayed by builder-bff (Dapr caller builder-bff only)",
    description=(
        "The raw body and `x-wfb-timestamp` / `x-wfb-signature` (HMAC-SHA256 of "
        "`<timestamp>.<body>` with the workflow's secret), or the sender's bearer secret in "
        "`x-wfb-webhook-authorization`. 404 when the workflow has no active webhook "
        "trigger; 401 bad/stale/replayed signature; 415 body not JSON; 422 body+query "
        "fail the input schema; 429 over the trigger's rate; 202 `{instanceId, firingId}` "
        "(async, or sync still running), 200 `{instanceId, runtimeStatus, result, "
        "outputs}` (sync, finished). `Idempotency-Key` replays the first answer for 24 h."
    ),
)
async def receive_webhook(
    request: Request,
    caller: WebhookRelay,
    workflow_id: Annotated[str, Path(alias="workflowId", max_length=64)],
) -> JSONResponse:
    rt = _runtime(request)
    body = await _read_body(request, rt.settings.webhook_max_body_bytes)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise Conflict("Idempotency-Key must be 1-200 characters")
    answer = await webhook_intake.receive(
        rt,
        request.app.state.limiter,
        webhook_intake.WebhookRequest(
            workflow_id=workflow_id,
            body=body,
            content_type=request.headers.get("content-type"),
            query=list(request.query_params.multi_items()),
            idempotency_key=key,
            timestamp=request.headers.get("x-wfb-timestamp"),
            signature=request.headers.get("x-wfb-signature"),
            authorization=request.headers.get("x-wfb-webhook-authorization"),
        ),
    )
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"a webhook body may be at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"a webhook body may be at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- Dapr: job deliveries ---------------------------------------------------------------------


@jobs_router.post(
    "/job/{name}",
    summary="A Dapr job fired (schedule triggers); the sidecar calls this",
    responses=errors(),
)
async def job_fired(request: Request, name: str) -> dict[str, Any]:
    expected = _app_api_token(request)
    if expected and not hmac.compare_digest(
        request.headers.get("dapr-api-token", "").encode(), expected.encode()
    ):
        raise Unauthorized("job deliveries must come from the Dapr sidecar")
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        body = None
    data = delivered_data(body)
    if data is None:
        _log.warning("job %s delivered a body that is not a trigger occurrence; ignored", name)
        return {"outcome": "ignored"}
    delivery = await service.on_job(_runtime(request), name, data)
    return {
        "outcome": delivery.outcome,
        "firingId": delivery.firing.id if delivery.firing else None,
    }
