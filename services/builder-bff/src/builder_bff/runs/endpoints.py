"""Run, watch and steer runs: the orchestrator's v2 API for the caller's projects."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from builder_bff.admin.access import authorize
from builder_bff.catalog.endpoints import catalog_cache
from builder_bff.dapr import iter_raw, passthrough
from builder_bff.runs.service import PURGE, READ, STEER, V2, authorize_run, orchestrator, start_run
from builder_bff.session.deps import SessionDep
from service_kit.problems import (
    BadGateway,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(prefix="/api", tags=["runs"])
UPSTREAM = (Unauthorized, BadGateway, ServiceUnavailable, GatewayTimeout)
RUN_ERRORS = problem_responses(Forbidden, NotFound, Conflict, Unprocessable, *UPSTREAM)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RunRequest(_Body):
    trigger_data: Any = Field(default_factory=dict, alias="triggerData")
    version: int | None = Field(default=None, ge=1)


class ApprovalAnswer(_Body):
    approved: bool
    reason: str | None = Field(default=None, max_length=2000)


class RaiseEvent(_Body):
    event_name: str = Field(alias="eventName", min_length=1, max_length=200)
    event_data: Any = Field(default=None, alias="eventData")


class RerunRequest(_Body):
    from_node_id: str = Field(alias="fromNodeId", min_length=1, max_length=200)


class ReplayRequest(_Body):
    trigger_data: Any = Field(default=None, alias="triggerData")


@router.post(
    "/workflows/{workflow_id}/run",
    status_code=201,
    summary="Validate and start the active (or given) version",
    responses=RUN_ERRORS,
)
async def run_workflow(
    workflow_id: str, body: RunRequest, request: Request, session: SessionDep
) -> dict[str, Any]:
    return await start_run(
        session, catalog_cache(request), workflow_id, body.trigger_data, body.version
    )


@router.get(
    "/projects/{project_id}/runs",
    summary="A project's runs, filtered and paginated",
    responses=RUN_ERRORS,
)
async def list_runs(
    project_id: str,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=40)] = None,
    phase: Annotated[str | None, Query(max_length=40)] = None,
    workflow_id: Annotated[str | None, Query(alias="workflowId", max_length=200)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    await authorize(session, "project", project_id, READ, "see its runs")
    params = {
        "label": f"projectId:{project_id}",
        "status": status,
        "phase": phase,
        "workflowId": workflow_id,
        "from": from_,
        "to": to,
        "limit": limit,
        "cursor": cursor,
    }
    response = await session.as_user(orchestrator(session), "GET", V2, params=params)
    return passthrough(response, orchestrator(session))


@router.get("/runs/diff", summary="Differences between two runs", responses=RUN_ERRORS)
async def diff_runs(
    session: SessionDep,
    left: Annotated[str, Query(min_length=1, max_length=200)],
    right: Annotated[str, Query(min_length=1, max_length=200)],
) -> Response:
    await authorize_run(session, left, READ, "compare runs")
    await authorize_run(session, right, READ, "compare runs")
    response = await session.as_user(
        orchestrator(session),
        "GET",
        "/api/v2/executions/diff",
        params={"left": left, "right": right},
    )
    return passthrough(response, orchestrator(session))


@router.get("/runs/{instance_id}", summary="A run's status", responses=RUN_ERRORS)
async def run_status(instance_id: str, session: SessionDep) -> dict[str, Any]:
    return await authorize_run(session, instance_id, READ, "see runs")


@router.get(
    "/runs/{instance_id}/timeline",
    summary="Per-node timeline: input, output, attempts, timing",
    responses=RUN_ERRORS,
)
async def run_timeline(instance_id: str, session: SessionDep) -> Response:
    await authorize_run(session, instance_id, READ, "see runs")
    response = await session.as_user(orchestrator(session), "GET", f"{V2}/{instance_id}/timeline")
    return passthrough(response, orchestrator(session))


@router.get(
    "/runs/{instance_id}/events",
    summary="Live run events (Server-Sent Events), resumable with Last-Event-ID",
    responses={200: {"content": {"text/event-stream": {}}}, **RUN_ERRORS},
)
async def run_events(
    instance_id: str,
    session: SessionDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
    after: Annotated[str | None, Query(alias="lastEventId", max_length=100)] = None,
) -> StreamingResponse:
    await authorize_run(session, instance_id, READ, "watch runs")
    resume = last_event_id or after
    upstream = await session.state.invoker.stream(
        orchestrator(session),
        f"{V2}/{instance_id}/stream",
        token=await session.token(),
        headers={"Last-Event-ID": resume} if resume else None,
    )
    return StreamingResponse(
        iter_raw(upstream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/runs/{instance_id}/approvals/{node_id}",
    summary="Approve or reject a waiting gate",
    responses=RUN_ERRORS,
)
async def answer_approval(
    instance_id: str, node_id: str, body: ApprovalAnswer, session: SessionDep
) -> Response:
    await authorize_run(session, instance_id, STEER, "answer approvals")
    response = await session.as_user(
        orchestrator(session),
        "POST",
        f"{V2}/{instance_id}/approvals/{node_id}",
        json_body=body.model_dump(exclude_none=True),
    )
    return passthrough(response, orchestrator(session))


@router.post(
    "/runs/{instance_id}/events", summary="Raise an external event on a run", responses=RUN_ERRORS
)
async def raise_event(instance_id: str, body: RaiseEvent, session: SessionDep) -> Response:
    await authorize_run(session, instance_id, STEER, "send events to runs")
    response = await session.as_user(
        orchestrator(session),
        "POST",
        f"{V2}/{instance_id}/events",
        json_body={"eventName": body.event_name, "eventData": body.event_data},
    )
    return passthrough(response, orchestrator(session))


@router.post(
    "/runs/{instance_id}/rerun",
    status_code=201,
    summary="Run again from a node",
    responses=RUN_ERRORS,
)
async def rerun(instance_id: str, body: RerunRequest, session: SessionDep) -> Response:
    await authorize_run(session, instance_id, STEER, "rerun runs")
    response = await session.as_user(
        orchestrator(session),
        "POST",
        f"{V2}/{instance_id}/rerun",
        json_body={"fromNodeId": body.from_node_id},
    )
    return passthrough(response, orchestrator(session))


@router.post(
    "/runs/{instance_id}/replay",
    status_code=201,
    summary="Replay with (edited) trigger data",
    responses=RUN_ERRORS,
)
async def replay(instance_id: str, body: ReplayRequest, session: SessionDep) -> Response:
    await authorize_run(session, instance_id, STEER, "replay runs")
    payload = {"triggerData": body.trigger_data} if body.trigger_data is not None else {}
    response = await session.as_user(
        orchestrator(session), "POST", f"{V2}/{instance_id}/replay", json_body=payload
    )
    return passthrough(response, orchestrator(session))


@router.post(
    "/runs/{instance_id}/{action}", summary="Terminate, pause or resume a run", responses=RUN_ERRORS
)
async def control(
    instance_id: str, action: Literal["terminate", "pause", "resume"], session: SessionDep
) -> Response:
    await authorize_run(session, instance_id, STEER, f"{action} runs")
    response = await session.as_user(
        orchestrator(session), "POST", f"{V2}/{instance_id}/{action}", json_body={}
    )
    return passthrough(response, orchestrator(session))


@router.delete(
    "/runs/{instance_id}",
    status_code=204,
    summary="Purge a finished run (project admins)",
    responses=RUN_ERRORS,
)
async def purge(instance_id: str, session: SessionDep) -> Response:
    await authorize_run(session, instance_id, PURGE, "purge runs")
    response = await session.as_user(orchestrator(session), "DELETE", f"{V2}/{instance_id}")
    return passthrough(response, orchestrator(session))
