"""Workflow routes: CRUD in a project, versions, diff, restore, deploy/stop, run now,
import/export."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from admin_api.audit.service import AuditDep
from admin_api.deps import CurrentActor, InternalCaller, SessionDep
from admin_api.openapi import LIST_ERRORS, WRITE_ERRORS, errors
from admin_api.pagination import Page, PageDep
from admin_api.permissions import Action
from admin_api.schemas import clean_name
from admin_api.tenancy.access import Access, Authorize
from admin_api.workflows import service
from admin_api.workflows.diff import diff_definitions
from admin_api.workflows.models import Workflow, WorkflowVersion
from admin_api.workflows.schemas import (
    DeployRequest,
    DiffOut,
    ImportRequest,
    RestoreRequest,
    RunRequest,
    RunStarted,
    SaveDefinition,
    SaveResult,
    VersionOut,
    VersionSummary,
    WorkflowCreate,
    WorkflowCreated,
    WorkflowOut,
    WorkflowUpdate,
)
from service_kit.problems import (
    BadGateway,
    Conflict,
    GatewayTimeout,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
)

router = APIRouter(prefix="/api/v1", tags=["workflows"])

ProjectWorkflowsReader = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_READ, "project", "projectId"))
]
ProjectWorkflowsWriter = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_WRITE, "project", "projectId"))
]
WorkflowReader = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_READ, "workflow", "workflowId"))
]
WorkflowWriter = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_WRITE, "workflow", "workflowId"))
]
WorkflowRunner = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_RUN, "workflow", "workflowId"))
]
WorkflowDeployer = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_DEPLOY, "workflow", "workflowId"))
]
WorkflowDeleter = Annotated[
    Access, Depends(Authorize(Action.WORKFLOW_DELETE, "workflow", "workflowId"))
]
VersionNumber = Annotated[int, Path(ge=1, le=1_000_000_000)]
DEFINITION_ERRORS = errors(Conflict, PayloadTooLarge)
UPSTREAM_ERRORS = errors(Conflict, BadGateway, ServiceUnavailable, GatewayTimeout)


def _summary(v: WorkflowVersion) -> VersionSummary:
    return VersionSummary.model_validate(v)


def _out(w: Workflow) -> WorkflowOut:
    return WorkflowOut.model_validate(w)


@router.post(
    "/projects/{projectId}/workflows",
    status_code=201,
    responses=DEFINITION_ERRORS,
    summary="Create a workflow (with an optional first definition, saved as version 1)",
)
async def create_workflow(
    body: WorkflowCreate,
    access: ProjectWorkflowsWriter,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WorkflowCreated:
    workflow, version, warnings = await service.create(session, access.resource_id, body, actor)
    audit.record(
        actor,
        "workflow.create",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail={"name": workflow.name, "version": version.number if version else None},
    )
    return WorkflowCreated.model_validate(
        {
            **_out(workflow).model_dump(),
            "version": _summary(version) if version else None,
            "warnings": warnings,
        }
    )


@router.get("/projects/{projectId}/workflows", responses=LIST_ERRORS)
async def list_workflows(
    access: ProjectWorkflowsReader,
    session: SessionDep,
    page: PageDep,
    status: Literal["draft", "deployed", "stopped"] | None = None,
) -> Page[WorkflowOut]:
    rows, cursor = await service.list_in_project(session, access.resource_id, status, page)
    return Page(items=[_out(w) for w in rows], next_cursor=cursor)


@router.post(
    "/projects/{projectId}/workflows/import",
    status_code=201,
    responses=DEFINITION_ERRORS,
    summary="Create a workflow from a JSON or YAML definition",
)
async def import_workflow(
    body: ImportRequest,
    access: ProjectWorkflowsWriter,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WorkflowCreated:
    raw = service.parse_import(body.content, body.format)
    name = body.name or clean_name(raw.get("name"), "Imported workflow")
    create = WorkflowCreate(
        name=name, definition=raw, message=body.message or f"imported from {body.format}"
    )
    workflow, version, warnings = await service.create(session, access.resource_id, create, actor)
    audit.record(
        actor,
        "workflow.import",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail={"format": body.format},
    )
    return WorkflowCreated.model_validate(
        {
            **_out(workflow).model_dump(),
            "version": _summary(version) if version else None,
            "warnings": warnings,
        }
    )


@router.get("/workflows/{workflowId}", responses=errors())
async def get_workflow(access: WorkflowReader, session: SessionDep) -> WorkflowOut:
    return _out(await service.get(session, access.resource_id))


@router.patch(
    "/workflows/{workflowId}", responses=WRITE_ERRORS, summary="Rename or describe a workflow"
)
async def update_workflow(
    body: WorkflowUpdate,
    access: WorkflowWriter,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WorkflowOut:
    workflow = await service.update(session, await service.get(session, access.resource_id), body)
    audit.record(
        actor,
        "workflow.update",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail=body.model_dump(exclude_unset=True),
    )
    return _out(workflow)


@router.delete(
    "/workflows/{workflowId}",
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Delete a workflow and its versions (stop it first)",
)
async def delete_workflow(
    access: WorkflowDeleter, actor: CurrentActor, session: SessionDep, audit: AuditDep
) -> Response:
    workflow = await service.get(session, access.resource_id)
    if workflow.status == "deployed":
        raise Conflict("the workflow is deployed; stop it before deleting it")
    await session.delete(workflow)
    audit.record(
        actor,
        "workflow.delete",
        resource_type="workflow",
        resource_id=access.resource_id,
        tenant=access.tenant,
        detail={"name": workflow.name},
    )
    return Response(status_code=204)


@router.put(
    "/workflows/{workflowId}/definition",
    responses={**DEFINITION_ERRORS, 201: {"model": SaveResult}},
    summary="Save a definition: a new version if it changed (201), nothing if not (200)",
)
async def save_definition(
    body: SaveDefinition,
    response: Response,
    access: WorkflowWriter,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> SaveResult:
    workflow = await service.get(session, access.resource_id)
    before = workflow.latest_version
    version, warnings = await service.save(session, workflow, body.definition, body.message, actor)
    created = version.number > before
    if created:
        response.status_code = 201
        audit.record(
            actor,
            "workflow.save",
            resource_type="workflow",
            resource_id=workflow.id,
            tenant=access.tenant,
            detail={"version": version.number, "sha256": version.sha256},
        )
    return SaveResult(created=created, version=_summary(version), warnings=warnings)


@router.get(
    "/workflows/{workflowId}/versions", responses=LIST_ERRORS, summary="Versions, newest first"
)
async def list_versions(
    access: WorkflowReader, session: SessionDep, page: PageDep
) -> Page[VersionSummary]:
    rows, cursor = await service.versions_page(session, access.resource_id, page)
    return Page(items=[_summary(v) for v in rows], next_cursor=cursor)


@router.get("/workflows/{workflowId}/versions/{number}", responses=errors())
async def get_version(
    number: VersionNumber, access: WorkflowReader, session: SessionDep
) -> VersionOut:
    return VersionOut.model_validate(await service.version(session, access.resource_id, number))


@router.post(
    "/workflows/{workflowId}/versions/{number}/restore",
    responses={**DEFINITION_ERRORS, 201: {"model": SaveResult}},
    summary="Save an old version's definition as a new version",
)
async def restore_version(
    number: VersionNumber,
    body: RestoreRequest,
    response: Response,
    access: WorkflowWriter,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> SaveResult:
    workflow = await service.get(session, access.resource_id)
    old = await service.version(session, workflow.id, number)
    before = workflow.latest_version
    version, warnings = await service.save(
        session,
        workflow,
        old.definition,
        body.message or f"restore of version {number}",
        actor,
        restored_from=number,
    )
    created = version.number > before
    if created:
        response.status_code = 201
        audit.record(
            actor,
            "workflow.restore",
            resource_type="workflow",
            resource_id=workflow.id,
            tenant=access.tenant,
            detail={"from": number, "version": version.number},
        )
    return SaveResult(created=created, version=_summary(version), warnings=warnings)


@router.get(
    "/workflows/{workflowId}/diff", responses=errors(), summary="Differences between two versions"
)
async def diff_versions(
    access: WorkflowReader,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000_000)],
) -> DiffOut:
    old = await service.version(session, access.resource_id, from_version)
    new = await service.version(session, access.resource_id, to_version)
    return DiffOut(
        from_version=from_version,
        to_version=to_version,
        **diff_definitions(old.definition, new.definition),
    )


@router.post(
    "/workflows/{workflowId}/deploy",
    responses=DEFINITION_ERRORS,
    summary="Make a version (default: the latest) the active one",
)
async def deploy_workflow(
    body: DeployRequest,
    request: Request,
    background: BackgroundTasks,
    access: WorkflowDeployer,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WorkflowOut:
    workflow = await service.deploy(
        session, await service.get(session, access.resource_id), body.version, actor
    )
    audit.record(
        actor,
        "workflow.deploy",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail={"version": workflow.active_version},
    )
    _apply_triggers_after_commit(request, background, workflow.id)
    return _out(workflow)


def _apply_triggers_after_commit(
    request: Request, background: BackgroundTasks, workflow_id: str
) -> None:
    """Dapr jobs and subscriptions follow the committed rows (the request's transaction
    commits before background tasks run; the reconciler heals a crash in between)."""
    reconciler = getattr(request.app.state, "reconciler", None)
    if reconciler is not None:
        background.add_task(reconciler.apply, workflow_id)


@router.post("/workflows/{workflowId}/stop", responses=errors(Conflict))
async def stop_workflow(
    request: Request,
    background: BackgroundTasks,
    access: WorkflowDeployer,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> WorkflowOut:
    workflow = await service.stop(session, await service.get(session, access.resource_id), actor)
    audit.record(
        actor,
        "workflow.stop",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail={"version": workflow.active_version},
    )
    _apply_triggers_after_commit(request, background, workflow.id)
    return _out(workflow)


@router.post(
    "/workflows/{workflowId}/run",
    status_code=201,
    responses=UPSTREAM_ERRORS,
    summary="Start the active (or a given) version on the orchestrator",
)
async def run_workflow(
    body: RunRequest,
    request: Request,
    access: WorkflowRunner,
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> RunStarted:
    workflow = await service.get(session, access.resource_id)
    try:
        started, number = await service.run(
            session,
            request.app.state.orchestrator,
            workflow,
            access.tenant,
            body.version,
            body.trigger_data,
            actor,
        )
    except ProblemError as exc:
        await audit.record_failure(
            actor,
            "workflow.run",
            resource_type="workflow",
            resource_id=workflow.id,
            tenant=access.tenant,
            detail={"reason": exc.detail, "version": body.version},
        )
        raise
    audit.record(
        actor,
        "workflow.run",
        resource_type="workflow",
        resource_id=workflow.id,
        tenant=access.tenant,
        detail={"version": number, "instanceId": started.instance_id},
    )
    return RunStarted(
        instance_id=started.instance_id,
        workflow_id=workflow.id,
        version=number,
        status=started.status,
    )


@router.get(
    "/workflows/{workflowId}/export",
    responses={**errors(), 200: {"content": {"application/json": {}, "application/yaml": {}}}},
    response_class=Response,
    summary="Download a version's definition as JSON or YAML",
)
async def export_workflow(
    access: WorkflowReader,
    session: SessionDep,
    format: Literal["json", "yaml"] = "json",
    version: Annotated[int | None, Query(ge=1, le=1_000_000_000)] = None,
) -> Response:
    workflow = await service.get(session, access.resource_id)
    number = version or workflow.latest_version
    if not number:
        raise NotFound("this workflow has no saved version yet")
    chosen = await service.version(session, workflow.id, number)
    media = "application/yaml" if format == "yaml" else "application/json"
    filename = f"{workflow.slug}-v{number}.{format}"
    return Response(
        service.export(chosen.definition, format),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


class InternalDefinition(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    workflow_id: str = Field(alias="workflowId")
    project_id: str = Field(alias="projectId")
    version: int
    definition: dict[str, Any]


@router.get(
    "/internal/workflows/{workflowRef}/definition",
    response_model=InternalDefinition,
    responses=errors(),
    tags=["internal"],
    summary="A saved workflow's definition for a sub-workflow node (Dapr callers only)",
)
async def internal_definition(
    caller: InternalCaller,
    session: SessionDep,
    workflow_ref: Annotated[str, Path(alias="workflowRef", max_length=200)],
    project_id: Annotated[str, Query(alias="projectId", max_length=64)],
    version: Annotated[str, Query(pattern=r"^(active|latest|[1-9][0-9]{0,8})$")] = "active",
) -> InternalDefinition:
    """The orchestrator resolves ``sub-workflow`` nodes here. The reference is a workflow id
    or its slug, always inside the calling run's project: another tenant's workflow is
    404, exactly like one that does not exist."""
    workflow = await session.scalar(
        select(Workflow).where(
            Workflow.project_id == project_id,
            or_(Workflow.id == workflow_ref, Workflow.slug == workflow_ref),
        )
    )
    if workflow is None:
        raise NotFound(f"workflow {workflow_ref!r} was not found in this project")
    if version == "active":
        if workflow.active_version is None:
            raise NotFound(
                f"workflow {workflow_ref!r} has no deployed version; deploy it or ask for 'latest'"
            )
        number = workflow.active_version
    elif version == "latest":
        if not workflow.latest_version:
            raise NotFound(f"workflow {workflow_ref!r} has no saved version yet")
        number = workflow.latest_version
    else:
        number = int(version)
    chosen = await service.version(session, workflow.id, number)
    return InternalDefinition(
        workflow_id=workflow.id,
        project_id=workflow.project_id,
        version=number,
        definition=chosen.definition,
    )
