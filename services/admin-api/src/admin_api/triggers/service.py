"""Firings: claiming an occurrence (unique per workflow and occurrence key), starting its
run on the orchestrator (overlap policies, queue), schedule deliveries and the state the
API shows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.db import new_id, utcnow
from admin_api.orchestrator_client import OrchestratorClient, StartOutcome
from admin_api.pagination import PageParams, keyset, page_of
from admin_api.settings import Settings
from admin_api.tenancy.access import tenant_of
from admin_api.triggers.jobs import JobsClient, JobsError, delivered_data, job_data, job_name
from admin_api.triggers.models import Firing, Trigger
from admin_api.triggers.schedule import count_between, iso, next_occurrence, parse_iso
from admin_api.triggers.secrets import SecretBox
from admin_api.workflows.models import Workflow, WorkflowVersion
from service_kit.db import transaction
from service_kit.problems import (
    BadGateway,
    GatewayTimeout,
    ProblemError,
    ServiceUnavailable,
)
from workflow_core.nodes import TriggerConfig

_log = logging.getLogger("admin_api.triggers")
RUNNING = frozenset({"RUNNING", "PENDING", "SUSPENDED"})
TRANSIENT = (ServiceUnavailable, GatewayTimeout, BadGateway)
MAX_ERROR = 2000


@dataclass
class Triggers:
    """What the trigger machinery needs, built once by the app's lifespan."""

    sessions: async_sessionmaker[AsyncSession]
    orchestrator: OrchestratorClient
    jobs: JobsClient
    box: SecretBox
    settings: Settings


def config_of(row: Trigger) -> TriggerConfig:
    return TriggerConfig.model_validate(row.config)


def _clip(text: str) -> str:
    return text[:MAX_ERROR]


# --- claiming a firing --------------------------------------------------------------------


async def claim(session: AsyncSession, firing: Firing) -> Firing | None:
    """Insert the firing; None when its occurrence key is already taken (a nested
    savepoint keeps the caller's transaction usable)."""
    try:
        async with session.begin_nested():
            session.add(firing)
            await session.flush()
    except IntegrityError:
        return None
    return firing


async def firing_by_key(session: AsyncSession, workflow_id: str, key: str) -> Firing | None:
    found: Firing | None = await session.scalar(
        select(Firing).where(Firing.workflow_id == workflow_id, Firing.occurrence_key == key)
    )
    return found


def new_firing(row: Trigger, key: str, status: str, **kw: Any) -> Firing:
    return Firing(
        id=new_id(),
        workflow_id=row.workflow_id,
        trigger_id=row.id,
        node_id=row.node_id,
        kind=row.kind,
        occurrence_key=key,
        version=row.version,
        generation=row.generation,
        fired_at=utcnow(),
        status=status,
        **kw,
    )


# --- starting runs ------------------------------------------------------------------------


async def run_labels(session: AsyncSession, workflow: Workflow, firing: Firing) -> dict[str, str]:
    tenant = await tenant_of(session, "project", workflow.project_id)
    labels = {
        "companyId": tenant.company_id if tenant else "",
        "organizationId": (tenant.organization_id or "") if tenant else "",
        "projectId": workflow.project_id,
        "workflowId": workflow.id,
        "version": str(firing.version),
        "trigger": firing.kind,
    }
    if firing.trigger_id:
        labels["triggerId"] = firing.trigger_id
    return labels


async def start_firing(
    rt: Triggers, firing_id: str, *, wait_s: float | None = None
) -> tuple[Firing, StartOutcome | None]:
    """Start the run of a pending firing (idempotent: the orchestrator's Idempotency-Key
    is the firing id, so a retry after a crash never starts a second run). A transient
    failure leaves the firing pending and raises; any other refusal marks it failed."""
    async with rt.sessions() as session:
        firing = await session.get(Firing, firing_id)
        if firing is None:
            raise LookupError(firing_id)
        workflow = await session.get(Workflow, firing.workflow_id)
        version = await session.scalar(
            select(WorkflowVersion).where(
                WorkflowVersion.workflow_id == firing.workflow_id,
                WorkflowVersion.number == firing.version,
            )
        )
        if workflow is None or version is None:
            raise LookupError(firing_id)
        labels = await run_labels(session, workflow, firing)
        definition = version.definition
    try:
        outcome = await rt.orchestrator.start_run(
            definition,
            firing.trigger_data or {},
            labels,
            idempotency_key=f"wfb-firing-{firing.id}",
            wait_s=wait_s,
        )
    except TRANSIENT as exc:
        await _note_error(rt, firing, f"starting the run failed (will retry): {exc.detail}")
        raise
    except ProblemError as exc:
        error = f"the orchestrator refused the run: {exc.detail}"
        return await finish(rt, firing.id, "failed", error=error), None
    firing = await finish(rt, firing.id, "started", instance_id=outcome.instance_id)
    return firing, outcome


async def finish(
    rt: Triggers,
    firing_id: str,
    status: str,
    *,
    instance_id: str | None = None,
    error: str | None = None,
    response: dict[str, Any] | None = None,
) -> Firing:
    async with transaction(rt.sessions) as session:
        firing = await session.get(Firing, firing_id)
        if firing is None:
            raise LookupError(firing_id)
        firing.status = status
        firing.instance_id = instance_id or firing.instance_id
        firing.error = _clip(error) if error else None
        if response is not None:
            firing.response = response
        if status in ("started", "skipped"):
            firing.trigger_data = None
        trigger = await session.get(Trigger, firing.trigger_id) if firing.trigger_id else None
        if trigger is not None:
            if status == "started":
                trigger.last_fired_at = utcnow()
            if error and status == "failed":
                trigger.last_error, trigger.last_error_at = _clip(error), utcnow()
        return firing


async def _note_error(rt: Triggers, firing: Firing, error: str) -> None:
    async with transaction(rt.sessions) as session:
        found = await session.get(Firing, firing.id)
        if found is not None:
            found.error = _clip(error)
        trigger = await session.get(Trigger, firing.trigger_id) if firing.trigger_id else None
        if trigger is not None:
            trigger.last_error, trigger.last_error_at = _clip(error), utcnow()


async def note_trigger_error(rt: Triggers, trigger_id: str, error: str | None) -> None:
    async with transaction(rt.sessions) as session:
        trigger = await session.get(Trigger, trigger_id)
        if trigger is not None:
            trigger.last_error = _clip(error) if error else None
            trigger.last_error_at = utcnow() if error else trigger.last_error_at


# --- overlap policies ---------------------------------------------------------------------


async def previous_still_running(rt: Triggers, trigger_id: str, exclude: str = "") -> bool:
    """Whether the last run this trigger started is still going (asked to the
    orchestrator; an unknown run counts as ended, an unreachable one as running)."""
    async with rt.sessions() as session:
        instance = await session.scalar(
            select(Firing.instance_id)
            .where(
                Firing.trigger_id == trigger_id,
                Firing.status == "started",
                Firing.instance_id.is_not(None),
                Firing.id != exclude,
            )
            .order_by(Firing.fired_at.desc(), Firing.id.desc())
            .limit(1)
        )
    if instance is None:
        return False
    try:
        status = await rt.orchestrator.status(instance)
    except TRANSIENT:
        return True
    except ProblemError:
        return False
    return str(status.get("runtimeStatus", "")).upper() in RUNNING


async def queued_count(session: AsyncSession, trigger_id: str, exclude: str = "") -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Firing)
        .where(Firing.trigger_id == trigger_id, Firing.status == "queued", Firing.id != exclude)
    )
    return int(count or 0)


async def dispatch(rt: Triggers, firing_id: str) -> Firing:
    """Apply the trigger's overlap policy, then start the run (or queue/skip it)."""
    async with rt.sessions() as session:
        firing = await session.get(Firing, firing_id)
        if firing is None:
            raise LookupError(firing_id)
        trigger = await session.get(Trigger, firing.trigger_id) if firing.trigger_id else None
        waiting = await queued_count(session, trigger.id, firing.id) if trigger else 0
    policy = (
        config_of(trigger).overlap_policy if trigger and trigger.kind == "schedule" else "allow"
    )
    if policy != "allow" and trigger is not None:
        busy = await previous_still_running(rt, trigger.id)
        if policy == "skip" and busy:
            return await finish(rt, firing.id, "skipped", error="the previous run is still running")
        if policy == "queue" and (busy or waiting):
            if waiting >= rt.settings.trigger_queue_limit:
                return await finish(
                    rt,
                    firing.id,
                    "skipped",
                    error=f"the queue is full ({rt.settings.trigger_queue_limit} waiting)",
                )
            return await finish(rt, firing.id, "queued")
    started, _ = await start_firing(rt, firing.id)
    return started


async def drain_queue(rt: Triggers, trigger_id: str) -> Firing | None:
    """Start the oldest queued firing of a trigger once its previous run has ended."""
    async with rt.sessions() as session:
        oldest = await session.scalar(
            select(Firing)
            .where(Firing.trigger_id == trigger_id, Firing.status == "queued")
            .order_by(Firing.fired_at, Firing.id)
            .limit(1)
        )
    if oldest is None or await previous_still_running(rt, trigger_id):
        return None
    async with transaction(rt.sessions) as session:
        claimed = await session.get(Firing, oldest.id)
        if claimed is None or claimed.status != "queued":
            return None
        claimed.status = "pending"
    started, _ = await start_firing(rt, oldest.id)
    return started


# --- schedule deliveries ------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    outcome: str
    """started | queued | skipped | missed | failed | duplicate | stale"""
    firing: Firing | None = None


async def on_job(rt: Triggers, name: str, data: dict[str, Any]) -> Delivery:
    """A Dapr job fired: record the occurrence once, schedule the next one, start the run
    (or record a missed occurrence per the trigger's policy)."""
    try:
        occurrence = parse_iso(str(data["occurrence"]))
        generation = int(data["generation"])
        trigger_id = str(data["triggerId"])
    except (KeyError, TypeError, ValueError):
        _log.warning("job %s carries data that is not a trigger occurrence; ignored", name)
        return Delivery("stale")
    now = utcnow()
    async with transaction(rt.sessions) as session:
        row = await session.get(Trigger, trigger_id, with_for_update=True)
        if (
            row is None
            or not row.active
            or row.kind != "schedule"
            or row.generation != generation
            or job_name(row.workflow_id, row.node_id) != name
        ):
            _log.info("job %s: stale delivery (generation %s) ignored", name, generation)
            return Delivery("stale")
        key = f"schedule:{iso(occurrence)}"
        existing = await firing_by_key(session, row.workflow_id, key)
        if existing is not None:
            resume = existing.id if existing.status == "pending" else None
            outcome = Delivery("duplicate", existing)
        elif row.next_fire_at is None or iso(row.next_fire_at) != iso(occurrence):
            return Delivery("stale")
        else:
            firing = _occurrence_firing(rt, row, occurrence, now, key)
            if await claim(session, firing) is None:  # another replica got it first
                return Delivery("duplicate")
            resume = firing.id if firing.status == "pending" else None
            outcome = Delivery(firing.status, firing)
        next_at, generation = row.next_fire_at, row.generation
        workflow_id, node_id, trigger_row_id = row.workflow_id, row.node_id, row.id
    if next_at is not None and outcome.outcome != "duplicate":
        await schedule_job(rt, workflow_id, node_id, trigger_row_id, generation, next_at)
    if resume is None:
        return outcome
    try:
        firing = await dispatch(rt, resume)
    except TRANSIENT:
        return Delivery("pending", outcome.firing)
    return Delivery(firing.status, firing)


def _occurrence_firing(
    rt: Triggers, row: Trigger, occurrence: datetime, now: datetime, key: str
) -> Firing:
    """The firing of a delivered occurrence; moves the row to its next occurrence."""
    config = config_of(row)
    anchor = row.anchor_at or occurrence
    late = (now - occurrence).total_seconds() > rt.settings.trigger_missed_grace_s
    row.last_fired_at = now
    data: dict[str, Any] = {
        "occurrence": iso(occurrence),
        "firedAt": iso(now),
        "triggerId": row.id,
    }
    if not late:
        row.next_fire_at = next_occurrence(config, occurrence, anchor)
        return new_firing(row, key, "pending", scheduled_for=occurrence, trigger_data=data)
    missed = count_between(config, occurrence, now, anchor)
    row.next_fire_at = next_occurrence(config, now, anchor)
    late_s = int((now - occurrence).total_seconds())
    note = f"{missed} occurrence(s) missed (delivered {late_s} s after {iso(occurrence)})"
    if config.missed_policy == "skip":
        return new_firing(
            row, key, "missed", scheduled_for=occurrence, missed_count=missed, error=note
        )
    data["missed"] = missed
    return new_firing(
        row,
        key,
        "pending",
        scheduled_for=occurrence,
        missed_count=missed,
        trigger_data=data,
        error=f"{note}; ran once",
    )


async def schedule_job(
    rt: Triggers, workflow_id: str, node_id: str, trigger_id: str, generation: int, due: datetime
) -> bool:
    name = job_name(workflow_id, node_id)
    try:
        await rt.jobs.schedule(name, due, job_data(workflow_id, trigger_id, generation, due))
    except JobsError as exc:
        _log.warning("could not schedule %s (the reconciler retries): %s", name, exc)
        await note_trigger_error(rt, trigger_id, f"scheduling the next occurrence failed: {exc}")
        return False
    return True


# --- applying the DB state to Dapr (after commit, and by the reconciler) ---------------------


async def sync_jobs(rt: Triggers, workflow_id: str | None = None) -> None:
    """Make Dapr's jobs match the rows: a job for each active schedule (carrying its
    generation and next occurrence), none for inactive ones."""
    async with rt.sessions() as session:
        stmt = select(Trigger).where(Trigger.kind == "schedule")
        if workflow_id:
            stmt = stmt.where(Trigger.workflow_id == workflow_id)
        rows = list(await session.scalars(stmt.where(Trigger.active | Trigger.job_scheduled)))
    for row in rows:
        name = job_name(row.workflow_id, row.node_id)
        try:
            if row.active and row.next_fire_at is not None:
                wanted = job_data(row.workflow_id, row.id, row.generation, row.next_fire_at)
                current = await rt.jobs.get(name)
                if current is None or _job_payload(current) != wanted:
                    await rt.jobs.schedule(name, row.next_fire_at, wanted)
            elif not row.active:
                await rt.jobs.delete(name)
                await _mark_job_cleared(rt, row.id, row.generation)
        except JobsError as exc:
            _log.warning("reconciling job %s failed: %s", name, exc)
            await note_trigger_error(rt, row.id, f"Dapr jobs: {exc}")


def _job_payload(job: dict[str, Any]) -> dict[str, Any] | None:
    return delivered_data(job.get("data", job))


async def _mark_job_cleared(rt: Triggers, trigger_id: str, generation: int) -> None:
    async with transaction(rt.sessions) as session:
        row = await session.get(Trigger, trigger_id)
        if row is not None and not row.active and row.generation == generation:
            row.job_scheduled = False


async def resume_pending(rt: Triggers) -> int:
    """Finish firings left pending by a crash or an unreachable orchestrator."""
    horizon = utcnow() - timedelta(seconds=rt.settings.trigger_pending_retry_s)
    async with rt.sessions() as session:
        ids = list(
            await session.scalars(
                select(Firing.id)
                .where(Firing.status == "pending", Firing.updated_at < horizon)
                .order_by(Firing.fired_at)
                .limit(100)
            )
        )
    done = 0
    for firing_id in ids:
        try:
            await start_firing(rt, firing_id)
            done += 1
        except TRANSIENT:
            break
        except LookupError:
            continue
    return done


# --- manual runs --------------------------------------------------------------------------


async def trigger_row(session: AsyncSession, workflow_id: str, node_id: str) -> Trigger | None:
    found: Trigger | None = await session.scalar(
        select(Trigger).where(Trigger.workflow_id == workflow_id, Trigger.node_id == node_id)
    )
    return found


def record_manual(
    session: AsyncSession,
    workflow_id: str,
    version: int,
    node_id: str,
    trigger: Trigger | None,
    instance_id: str,
) -> Firing:
    """A run started by a person (the run endpoint), in the request's transaction."""
    firing = Firing(
        id=new_id(),
        workflow_id=workflow_id,
        trigger_id=trigger.id if trigger else None,
        node_id=node_id,
        kind="manual",
        occurrence_key=f"manual:{instance_id}",
        version=version,
        generation=trigger.generation if trigger else 0,
        fired_at=utcnow(),
        status="started",
        instance_id=instance_id,
    )
    session.add(firing)
    if trigger is not None:
        trigger.last_fired_at = firing.fired_at
    return firing


# --- state the API shows ------------------------------------------------------------------


async def triggers_of(session: AsyncSession, workflow_id: str) -> list[Trigger]:
    rows = await session.scalars(
        select(Trigger)
        .where(Trigger.workflow_id == workflow_id)
        .order_by(Trigger.active.desc(), Trigger.node_id)
    )
    return list(rows)


async def firings_page(
    session: AsyncSession, workflow_id: str, params: PageParams
) -> tuple[list[Firing], str | None]:
    stmt = keyset(
        select(Firing).where(Firing.workflow_id == workflow_id),
        [Firing.fired_at, Firing.id],
        params,
        descending=True,
    )
    rows = list(await session.scalars(stmt))
    return page_of(rows, params, lambda f: [f.fired_at, f.id])
