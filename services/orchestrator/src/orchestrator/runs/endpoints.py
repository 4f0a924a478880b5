"""Routes of the v2 API: seed 003's endpoints, plus list, timeline, stream, approvals,
rerun, replay and diff."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from opentelemetry import trace

from orchestrator.auth import CurrentPrincipal
from orchestrator.runs import schemas as s
from orchestrator.runs.service import RunService
from orchestrator.runs.stream import run_events
from service_kit.problems import (
    BadRequest,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(prefix="/api/v2", tags=["workflows"])
COMMON = (Unauthorized, NotFound, ServiceUnavailable)


def _service(request: Request) -> RunService:
    service: RunService = request.app.state.runs
    return service


def _trace_parent() -> str | None:
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return f"00-{span.trace_id:032x}-{span.span_id:016x}-{int(span.trace_flags):02x}"


async def _check_size(request: Request) -> None:
    limit = request.app.state.settings.max_payload_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the request body is {length} bytes; the limit is {limit}")


@router.post(
    "/workflows",
    status_code=201,
    response_model=s.StartResponse,
    summary="Start a workflow run",
    description=(
        "Seed 003's start call. With `?wait=<seconds>` (up to 60) the call also waits for the "
        "run: it answers 200 with the run's status (and `result`, the last node's output) when "
        "the run finished in time, or 202 with the start response when it is still going."
    ),
    responses={
        200: {"model": s.StatusResponse, "description": "finished within `wait`"},
        202: {"model": s.StartResponse, "description": "still running after `wait`"},
        **problem_responses(
            Unauthorized,
            NotFound,
            Conflict,
            PayloadTooLarge,
            Unprocessable,
            TooManyRequests,
            ServiceUnavailable,
        ),
    },
)
async def start_workflow(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    body: s.StartRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
    wait: Annotated[
        float | None, Query(ge=0, le=60, description="seconds to wait for the run")
    ] = None,
) -> Any:
    await _check_size(request)
    service = _service(request)
    started, replayed, finished = await service.start(
        principal, body, idempotency_key=idempotency_key, trace_parent=_trace_parent()
    )
    headers = {"Location": f"/api/v2/workflows/{started.instance_id}/status"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if wait:
        if finished is None:
            finished = await service.wait_for_completion(principal, started.instance_id, wait)
        if finished is not None:
            return JSONResponse(
                finished.model_dump(mode="json", by_alias=True), status_code=200, headers=headers
            )
        return JSONResponse(
            started.model_dump(mode="json", by_alias=True), status_code=202, headers=headers
        )
    response.headers.update(headers)
    return started


@router.get(
    "/workflows",
    response_model=s.RunPage,
    summary="List runs (filter by workflow, status, phase, labels, time; cursor-paginated)",
    responses=problem_responses(BadRequest, *COMMON),
)
async def list_workflows(
    request: Request,
    principal: CurrentPrincipal,
    workflow_id: Annotated[str | None, Query(alias="workflowId")] = None,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default
    phase: Annotated[list[str], Query()] = [],  # noqa: B006
    label: Annotated[list[str], Query(description="key:value, repeatable")] = [],  # noqa: B006
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> s.RunPage:
    return await _service(request).list_runs(
        principal,
        workflow_id=workflow_id,
        status=status,
        phase=phase,
        labels=label,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/workflows/{instance_id}/status",
    response_model=s.StatusResponse,
    summary="Status of a run",
    responses=problem_responses(*COMMON),
)
async def get_status(
    request: Request, principal: CurrentPrincipal, instance_id: str
) -> s.StatusResponse:
    return await _service(request).status(principal, instance_id)


@router.post(
    "/workflows/{instance_id}/events",
    status_code=202,
    response_model=s.AcceptedResponse,
    summary="Raise an event (for approval gates: {approved, reason})",
    responses=problem_responses(Conflict, Unprocessable, *COMMON),
)
async def raise_event(
    request: Request, principal: CurrentPrincipal, instance_id: str, body: s.RaiseEventRequest
) -> s.AcceptedResponse:
    return await _service(request).raise_event(principal, instance_id, body)


@router.post(
    "/workflows/{instance_id}/approvals/{node_id}",
    status_code=202,
    response_model=s.AcceptedResponse,
    summary="Approve or reject a waiting approval gate",
    responses=problem_responses(Conflict, Unprocessable, *COMMON),
)
async def answer_approval(
    request: Request,
    principal: CurrentPrincipal,
    instance_id: str,
    node_id: str,
    body: s.ApprovalRequest,
) -> s.AcceptedResponse:
    return await _service(request).approve(principal, instance_id, node_id, body)


@router.post(
    "/workflows/{instance_id}/terminate",
    status_code=202,
    response_model=s.AcceptedResponse,
    summary="Terminate a run (and its child runs)",
    responses=problem_responses(Conflict, *COMMON),
)
async def terminate(
    request: Request, principal: CurrentPrincipal, instance_id: str
) -> s.AcceptedResponse:
    return await _service(request).terminate(principal, instance_id)


@router.post(
    "/workflows/{instance_id}/pause",
    status_code=202,
    response_model=s.AcceptedResponse,
    summary="Suspend a run",
    responses=problem_responses(Conflict, *COMMON),
)
async def pause(
    request: Request, principal: CurrentPrincipal, instance_id: str
) -> s.AcceptedResponse:
    return await _service(request).pause(principal, instance_id)


@router.post(
    "/workflows/{instance_id}/resume",
    status_code=202,
    response_model=s.AcceptedResponse,
    summary="Resume a suspended run",
    responses=problem_responses(Conflict, *COMMON),
)
async def resume(
    request: Request, principal: CurrentPrincipal, instance_id: str
) -> s.AcceptedResponse:
    return await _service(request).resume(principal, instance_id)


@router.delete(
    "/workflows/{instance_id}",
    status_code=204,
    summary="Purge a finished run and its records",
    responses=problem_responses(Conflict, *COMMON),
)
async def purge(
    request: Request, principal: CurrentPrincipal, instance_id: str, force: bool = False
) -> Response:
    await _service(request).purge(principal, instance_id, force)
    return Response(status_code=204)


@router.get(
    "/workflows/{instance_id}/timeline",
    response_model=s.Timeline,
    summary="Per-node status, attempts, timing, input, output, error, compensation",
    responses=problem_responses(*COMMON),
)
async def timeline(request: Request, principal: CurrentPrincipal, instance_id: str) -> s.Timeline:
    return await _service(request).timeline(principal, instance_id)


@router.get(
    "/workflows/{instance_id}/stream",
    summary="Server-Sent Events of the run (resumable with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(*COMMON)},
)
async def stream(
    request: Request,
    principal: CurrentPrincipal,
    instance_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    service = _service(request)
    await service.get_run(principal, instance_id)
    start = after or 0
    if last_event_id:
        if not last_event_id.isdigit():
            raise BadRequest("Last-Event-ID must be an event id this stream sent")
        start = int(last_event_id)
    return StreamingResponse(
        run_events(request, service.sessions, request.app.state.notifier, instance_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/workflows/{instance_id}/rerun",
    status_code=201,
    response_model=s.DerivedRunResponse,
    summary="Start a new run from a node, reusing the recorded outputs of earlier nodes",
    responses=problem_responses(Conflict, Unprocessable, TooManyRequests, *COMMON),
)
async def rerun(
    request: Request, principal: CurrentPrincipal, instance_id: str, body: s.RerunRequest
) -> s.DerivedRunResponse:
    return await _service(request).rerun(principal, instance_id, body, _trace_parent())


@router.post(
    "/workflows/{instance_id}/replay",
    status_code=201,
    response_model=s.DerivedRunResponse,
    summary="Run the same definition again, optionally with new trigger data",
    responses=problem_responses(Unprocessable, TooManyRequests, *COMMON),
)
async def replay(
    request: Request,
    principal: CurrentPrincipal,
    instance_id: str,
    body: Annotated[s.ReplayRequest | None, Body()] = None,
) -> s.DerivedRunResponse:
    parsed = body or s.ReplayRequest()
    has_trigger = "trigger_data" in parsed.model_fields_set
    return await _service(request).replay(
        principal, instance_id, parsed, has_trigger, _trace_parent()
    )


@router.get(
    "/executions/diff",
    response_model=s.RunDiff,
    tags=["executions"],
    summary="Per-node status and output differences between two runs",
    responses=problem_responses(*COMMON),
)
async def diff(
    request: Request,
    principal: CurrentPrincipal,
    left: Annotated[str, Query(min_length=1)],
    right: Annotated[str, Query(min_length=1)],
) -> s.RunDiff:
    return await _service(request).diff(principal, left, right)
