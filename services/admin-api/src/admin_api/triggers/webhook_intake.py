"""A webhook request relayed by the BFF: find the active webhook trigger, rate-limit,
verify, honour the Idempotency-Key, validate, start the run (async or sync) and keep the
answer for replays."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin_api.db import new_id, utcnow
from admin_api.ratelimit import RateLimiter
from admin_api.triggers import service
from admin_api.triggers.models import Firing, Trigger, UsedSignature
from admin_api.triggers.secrets import stored_secret
from admin_api.triggers.webhooks import (
    check_schema,
    merge_query,
    parse_body,
    verify_bearer,
    verify_hmac,
)
from admin_api.workflows.models import Workflow
from service_kit.db import transaction
from service_kit.problems import (
    Conflict,
    NotFound,
    ProblemError,
    TooManyRequests,
    Unauthorized,
)
from workflow_core.nodes import TriggerConfig

FINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


@dataclass
class WebhookRequest:
    workflow_id: str
    body: bytes
    content_type: str | None
    query: list[tuple[str, str]]
    idempotency_key: str | None
    timestamp: str | None
    signature: str | None
    authorization: str | None


@dataclass
class WebhookAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool = False

    @property
    def headers(self) -> dict[str, str]:
        headers = {}
        if self.body.get("instanceId"):
            headers["Location"] = f"/api/v2/workflows/{self.body['instanceId']}/status"
        if self.replayed:
            headers["Idempotent-Replayed"] = "true"
        return headers


def _no_trigger(workflow_id: str) -> NotFound:
    return NotFound(f"no active webhook trigger for workflow {workflow_id!r}")


async def _active_trigger(rt: service.Triggers, workflow_id: str) -> Trigger:
    async with rt.sessions() as session:
        workflow = await session.get(Workflow, workflow_id)
        if workflow is None or workflow.status != "deployed":
            raise _no_trigger(workflow_id)
        row: Trigger | None = await session.scalar(
            select(Trigger).where(
                Trigger.workflow_id == workflow_id,
                Trigger.active.is_(True),
                Trigger.kind == "webhook",
            )
        )
    if row is None:
        raise _no_trigger(workflow_id)
    return row


async def receive(rt: service.Triggers, limiter: RateLimiter, req: WebhookRequest) -> WebhookAnswer:
    row = await _active_trigger(rt, req.workflow_id)
    config = service.config_of(row)
    options = config.webhook_options
    hit = await limiter.hit(f"webhook:{req.workflow_id}", options.rate_limit_per_minute, 60)
    if not hit.allowed:
        raise TooManyRequests(
            f"more than {options.rate_limit_per_minute} webhook requests a minute for this "
            "workflow",
            retry_after=hit.retry_after_s,
        )
    signature = await _authenticate(rt, req, options.auth, options.tolerance_seconds)
    key = f"webhook:{req.idempotency_key}" if req.idempotency_key else None
    if key is not None:
        replay = await _replay(rt, req.workflow_id, key)
        if replay is not None:
            return replay
    if signature is not None:
        await _remember_signature(rt, req.workflow_id, signature, options.tolerance_seconds)
    data = merge_query(parse_body(req.body, req.content_type), req.query, config.input_schema)
    check_schema(config.input_schema, data)
    firing_id = await _claim(rt, row, key or f"webhook:{new_id()}", data)
    return await _start(rt, firing_id, config)


async def _authenticate(
    rt: service.Triggers, req: WebhookRequest, auth: str, tolerance_s: int
) -> str | None:
    if auth == "none":
        return None
    async with rt.sessions() as session:
        secret = await stored_secret(session, rt.box, req.workflow_id)
    if secret is None:
        raise Unauthorized("this webhook has no secret yet; an admin can reveal or rotate one")
    if auth == "bearer":
        verify_bearer(secret, req.authorization)
        return None
    return verify_hmac(secret, req.timestamp, req.signature, req.body, tolerance_s)


async def _remember_signature(
    rt: service.Triggers, workflow_id: str, signature: str, tolerance_s: int
) -> None:
    """Refuse a signature seen within the window (a replayed request)."""
    now = utcnow()
    expires = now + timedelta(seconds=2 * tolerance_s)
    try:
        async with transaction(rt.sessions) as session:
            session.add(
                UsedSignature(workflow_id=workflow_id, signature=signature, expires_at=expires)
            )
        return
    except IntegrityError:
        pass
    async with transaction(rt.sessions) as session:
        seen = await session.get(UsedSignature, (workflow_id, signature), with_for_update=True)
        if seen is not None and seen.expires_at > now:
            raise Unauthorized("this signature was already used (a replayed request)")
        if seen is not None:
            seen.expires_at = expires


async def _replay(rt: service.Triggers, workflow_id: str, key: str) -> WebhookAnswer | None:
    """The first request's answer for a key used within the idempotency window."""
    horizon = utcnow() - timedelta(seconds=rt.settings.webhook_idempotency_ttl_s)
    async with transaction(rt.sessions) as session:
        firing = await service.firing_by_key(session, workflow_id, key)
        if firing is None:
            return None
        if firing.fired_at < horizon:  # expired: free the key for this new request
            firing.occurrence_key = f"{key}#expired-{firing.id}"[:500]
            return None
        if firing.status == "pending" or firing.response is None:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        stored = firing.response
    return WebhookAnswer(int(stored["status"]), dict(stored["body"]), replayed=True)


async def _claim(rt: service.Triggers, row: Trigger, key: str, data: dict[str, Any]) -> str:
    async with transaction(rt.sessions) as session:
        current = await session.get(Trigger, row.id)
        if current is None or not current.active:
            raise _no_trigger(row.workflow_id)
        firing = service.new_firing(current, key, "pending", trigger_data=data)
        if await service.claim(session, firing) is None:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        return firing.id


async def _start(rt: service.Triggers, firing_id: str, config: TriggerConfig) -> WebhookAnswer:
    options = config.webhook_options
    wait = options.sync_timeout_seconds if options.mode == "sync" else None
    deadline = time.monotonic() + (wait or 0)
    try:
        firing, outcome = await service.start_firing(rt, firing_id, wait_s=wait)
    except ProblemError as exc:
        await _release(rt, firing_id, exc.detail)
        raise
    if outcome is None:  # the orchestrator refused the run (recorded as failed)
        await _release(rt, firing_id, firing.error or "refused")
        raise Conflict(f"the run could not be started: {firing.error}")
    status_body = outcome.body if outcome.finished else None
    if wait and status_body is None:
        status_body = await _wait_longer(rt, outcome.instance_id, deadline)
    if status_body is not None:
        answer = WebhookAnswer(
            200,
            {
                "instanceId": outcome.instance_id,
                "runtimeStatus": status_body.get("runtimeStatus"),
                "result": status_body.get("result"),
                "outputs": status_body.get("outputs", {}),
            },
        )
    else:
        answer = WebhookAnswer(202, {"instanceId": outcome.instance_id, "firingId": firing_id})
    await service.finish(
        rt,
        firing_id,
        "started",
        instance_id=outcome.instance_id,
        response={"status": answer.status, "body": answer.body},
    )
    return answer


async def _wait_longer(
    rt: service.Triggers, instance_id: str, deadline: float
) -> dict[str, Any] | None:
    """The orchestrator waits at most 60 s; poll the rest of a longer sync timeout."""
    while time.monotonic() < deadline:
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        try:
            status = await rt.orchestrator.status(instance_id)
        except ProblemError:
            continue
        if str(status.get("runtimeStatus", "")).upper() in FINAL:
            return status
    return None


async def _release(rt: service.Triggers, firing_id: str, error: str) -> None:
    """A start that failed frees its Idempotency-Key, so the sender may retry."""
    async with transaction(rt.sessions) as session:
        firing = await session.get(Firing, firing_id)
        if firing is not None:
            firing.status = "failed"
            firing.error = error[:2000]
            firing.occurrence_key = f"webhook-failed:{firing.id}"
