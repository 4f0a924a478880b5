"""Workflows: validated definitions, immutable numbered versions, restore, the
draft -> deployed -> stopped lifecycle, run now, import/export."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.context import Actor, Tenant
from admin_api.db import utcnow
from admin_api.orchestrator_client import OrchestratorClient, StartedRun
from admin_api.pagination import PageParams, keyset, page_of
from admin_api.schemas import slugify
from admin_api.triggers import activation
from admin_api.triggers import service as triggers
from admin_api.workflows.diff import canonical_json, definition_sha256
from admin_api.workflows.models import Workflow, WorkflowVersion
from admin_api.workflows.schemas import Warning, WorkflowCreate, WorkflowUpdate
from service_kit.problems import Conflict, NotFound, PayloadTooLarge, Unprocessable
from workflow_core import WorkflowDefinition, validate_document
from workflow_core.io import DocumentError, Format, dump_data, parse_text

MAX_DEFINITION_BYTES = 1_000_000


def validated_definition(raw: Any, workflow_id: str) -> tuple[dict[str, Any], list[Warning]]:
    """The definition as stored (its ``id`` is the workflow's id), or 422 listing every
    problem with its node id."""
    if isinstance(raw, dict):
        raw = {**raw, "id": workflow_id}
    report = validate_document(raw)
    if not report.ok:
        raise Unprocessable(
            f"the workflow definition has {len(report.errors)} problem(s)",
            errors=[i.model_dump(by_alias=True, exclude_none=True) for i in report.errors],
        )
    try:
        data = WorkflowDefinition.model_validate(raw).to_json_dict()
    except ValidationError as exc:  # validate_document reported none, so this is unexpected
        raise Unprocessable(
            "the workflow definition is invalid", errors=[dict(e) for e in exc.errors()]
        ) from None
    if len(canonical_json(data).encode()) > MAX_DEFINITION_BYTES:
        raise PayloadTooLarge(f"a definition may be at most {MAX_DEFINITION_BYTES} bytes")
    warnings = [Warning(code=i.code, message=i.message, node_id=i.node_id) for i in report.warnings]
    return data, warnings


async def _unique_slug(
    session: AsyncSession, project_id: str, wanted: str | None, name: str
) -> str:
    async def taken(slug: str) -> bool:
        found = await session.scalar(
            select(Workflow.id).where(Workflow.project_id == project_id, Workflow.slug == slug)
        )
        return found is not None

    if wanted:
        if await taken(wanted):
            raise Conflict(f"the slug {wanted!r} is already used in this project", slug=wanted)
        return wanted
    base, candidate, n = slugify(name), slugify(name), 1
    while await taken(candidate):
        n += 1
        candidate = f"{base[: 60 - len(str(n))]}-{n}"
    return candidate


async def create(
    session: AsyncSession, project_id: str, body: WorkflowCreate, actor: Actor
) -> tuple[Workflow, WorkflowVersion | None, list[Warning]]:
    workflow = Workflow(
        project_id=project_id,
        name=body.name,
        slug=await _unique_slug(session, project_id, body.slug, body.name),
        description=body.description,
        status="draft",
        created_by=actor.id,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(workflow)
    await _flush(session, "a workflow with this slug exists in this project")
    if body.definition is None:
        return workflow, None, []
    version, warnings = await save(session, workflow, body.definition, body.message, actor)
    return workflow, version, warnings


async def _flush(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(message) from None


async def get(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFound(f"workflow {workflow_id!r} was not found")
    return workflow


async def update(session: AsyncSession, workflow: Workflow, body: WorkflowUpdate) -> Workflow:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if "slug" in changes and changes["slug"] != workflow.slug:
        await _unique_slug(session, workflow.project_id, changes["slug"], workflow.name)
    for field, value in changes.items():
        setattr(workflow, field, value)
    workflow.updated_at = utcnow()
    await _flush(session, "a workflow with this slug exists in this project")
    return workflow


async def version(session: AsyncSession, workflow_id: str, number: int) -> WorkflowVersion:
    found: WorkflowVersion | None = await session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.number == number
        )
    )
    if found is None:
        raise NotFound(f"version {number} of this workflow does not exist")
    return found


async def save(
    session: AsyncSession,
    workflow: Workflow,
    raw: Any,
    message: str,
    actor: Actor,
    restored_from: int | None = None,
) -> tuple[WorkflowVersion, list[Warning]]:
    """Store version N+1 if the definition changed; an unchanged save returns the latest
    version and creates nothing (check ``version.number`` against the previous one)."""
    data, warnings = validated_definition(raw, workflow.id)
    digest = definition_sha256(data)
    if workflow.latest_version:
        latest = await version(session, workflow.id, workflow.latest_version)
        if latest.sha256 == digest:
            return latest, warnings
    created = WorkflowVersion(
        workflow_id=workflow.id,
        number=workflow.latest_version + 1,
        definition=data,
        sha256=digest,
        author_id=actor.id,
        author_label=actor.label,
        message=message,
        restored_from=restored_from,
        created_at=utcnow(),
    )
    session.add(created)
    workflow.latest_version = created.number
    workflow.updated_at = utcnow()
    await _flush(session, "another save created this version at the same time; reload and retry")
    return created, warnings


async def versions_page(
    session: AsyncSession, workflow_id: str, params: PageParams
) -> tuple[list[WorkflowVersion], str | None]:
    stmt = keyset(
        select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id),
        [WorkflowVersion.number],
        params,
        descending=True,
    )
    rows = list(await session.scalars(stmt))
    return page_of(rows, params, lambda v: [v.number])


async def deploy(
    session: AsyncSession, workflow: Workflow, number: int | None, actor: Actor
) -> Workflow:
    number = number or workflow.latest_version
    if not number:
        raise Conflict("nothing to deploy: save a definition first")
    chosen = await version(session, workflow.id, number)
    validated_definition(chosen.definition, workflow.id)  # rules may have tightened since
    await activation.activate(session, workflow.id, number, chosen.definition)
    workflow.status = "deployed"
    workflow.active_version = number
    workflow.deployed_at = utcnow()
    workflow.deployed_by = actor.id
    workflow.updated_at = utcnow()
    return workflow


async def stop(session: AsyncSession, workflow: Workflow, actor: Actor) -> Workflow:
    if workflow.status != "deployed":
        raise Conflict(f"the workflow is {workflow.status}, not deployed")
    await activation.deactivate(session, workflow.id)
    workflow.status = "stopped"
    workflow.stopped_at = utcnow()
    workflow.stopped_by = actor.id
    workflow.updated_at = utcnow()
    return workflow


async def run(
    session: AsyncSession,
    orchestrator: OrchestratorClient,
    workflow: Workflow,
    tenant: Tenant,
    number: int | None,
    trigger_data: dict[str, Any],
    actor: Actor,
) -> tuple[StartedRun, int]:
    if number is None:
        if workflow.status != "deployed" or workflow.active_version is None:
            raise Conflict("the workflow is not deployed; deploy it or give a version to run")
        number = workflow.active_version
    chosen = await version(session, workflow.id, number)
    node_id = next(iter(activation.trigger_configs(chosen.definition)), "")
    trigger = await triggers.trigger_row(session, workflow.id, node_id) if node_id else None
    labels = {
        "companyId": tenant.company_id,
        "organizationId": tenant.organization_id or "",
        "projectId": workflow.project_id,
        "workflowId": workflow.id,
        "version": str(number),
        "trigger": "manual",
    }
    if trigger is not None:
        labels["triggerId"] = trigger.id
    started = await orchestrator.start(
        chosen.definition, trigger_data, labels, actor.authorization_header
    )
    triggers.record_manual(session, workflow.id, number, node_id, trigger, started.instance_id)
    return started, number


def parse_import(content: str, fmt: Format) -> dict[str, Any]:
    try:
        data = parse_text(content, fmt)
    except DocumentError as exc:
        raise Unprocessable(
            str(exc), errors=[{"code": "invalid_document", "message": str(exc)}]
        ) from None
    except (RecursionError, ValueError) as exc:
        raise Unprocessable(f"the document cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise Unprocessable("the document must be a workflow definition (an object)")
    return data


def export(definition: dict[str, Any], fmt: Format) -> str:
    return dump_data(definition, fmt)


async def list_in_project(
    session: AsyncSession, project_id: str, status: str | None, params: PageParams
) -> tuple[list[Workflow], str | None]:
    stmt = select(Workflow).where(Workflow.project_id == project_id)
    if status:
        stmt = stmt.where(Workflow.status == status)
    rows = list(await session.scalars(keyset(stmt, [Workflow.created_at, Workflow.id], params)))
    return page_of(rows, params, lambda w: [w.created_at, w.id])
