"""Executions index (per project, per workflow) and the project dashboard."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from admin_api.dashboard import service
from admin_api.dashboard.schemas import Dashboard, ExecutionOut
from admin_api.deps import CurrentActor, SessionDep, SettingsDep
from admin_api.openapi import errors
from admin_api.orchestrator_client import OrchestratorClient, RunPage
from admin_api.pagination import Page
from admin_api.permissions import Action
from admin_api.tenancy.access import Access, Authorize
from admin_api.workflows.models import Workflow
from service_kit.problems import BadGateway, GatewayTimeout, ServiceUnavailable

router = APIRouter(prefix="/api/v1", tags=["executions"])

ProjectExecutions = Annotated[
    Access, Depends(Authorize(Action.EXECUTIONS_READ, "project", "projectId"))
]
WorkflowExecutions = Annotated[
    Access, Depends(Authorize(Action.EXECUTIONS_READ, "workflow", "workflowId"))
]
UPSTREAM = errors(BadGateway, ServiceUnavailable, GatewayTimeout)
RunStatus = Literal["RUNNING", "COMPLETED", "FAILED", "TERMINATED", "PENDING", "SUSPENDED"]


class ExecutionQuery:
    def __init__(
        self,
        status: RunStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=500, pattern=r"^[\x20-\x7e]*$")] = None,
    ) -> None:
        self.status = status
        self.limit = limit
        self.cursor = cursor


QueryDep = Annotated[ExecutionQuery, Depends()]


def _orchestrator(request: Request) -> OrchestratorClient:
    client: OrchestratorClient = request.app.state.orchestrator
    return client


def _page(runs: RunPage) -> Page[ExecutionOut]:
    return Page(
        items=[ExecutionOut.model_validate(r.model_dump()) for r in runs.items],
        next_cursor=runs.next_cursor,
    )


@router.get(
    "/projects/{projectId}/executions", responses=UPSTREAM, summary="Runs of a project's workflows"
)
async def project_executions(
    access: ProjectExecutions, actor: CurrentActor, request: Request, query: QueryDep
) -> Page[ExecutionOut]:
    runs = await _orchestrator(request).list_runs(
        {"projectId": access.resource_id},
        actor.authorization_header,
        status=query.status,
        limit=query.limit,
        cursor=query.cursor,
    )
    return _page(runs)


@router.get(
    "/workflows/{workflowId}/executions", responses=UPSTREAM, summary="Runs of one workflow"
)
async def workflow_executions(
    access: WorkflowExecutions, actor: CurrentActor, request: Request, query: QueryDep
) -> Page[ExecutionOut]:
    assert access.tenant.project_id is not None
    runs = await _orchestrator(request).list_runs(
        {"projectId": access.tenant.project_id, "workflowId": access.resource_id},
        actor.authorization_header,
        status=query.status,
        limit=query.limit,
        cursor=query.cursor,
    )
    return _page(runs)


@router.get(
    "/projects/{projectId}/dashboard",
    responses=UPSTREAM,
    summary="Counts by status, success rate, p50/p95 duration, top errors, per workflow and per day",
)
async def project_dashboard(
    access: ProjectExecutions,
    actor: CurrentActor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> Dashboard:
    runs, truncated = await service.collect_runs(
        _orchestrator(request),
        {"projectId": access.resource_id},
        actor.authorization_header,
        service.window_start(days),
        settings.dashboard_max_runs,
    )
    rows = await session.execute(
        select(Workflow.id, Workflow.name).where(Workflow.project_id == access.resource_id)
    )
    names = {row[0]: row[1] for row in rows}
    return service.aggregate(access.resource_id, days, runs, names, truncated)
