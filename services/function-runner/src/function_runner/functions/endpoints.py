"""``/functions`` (registry CRUD) and ``/status``."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import text

from function_runner import __version__
from function_runner.deps import RuntimeDep, SessionDep, SettingsDep, require_app_token
from function_runner.functions.repository import FunctionFilter
from function_runner.functions.schemas import (
    FunctionCreate,
    FunctionList,
    FunctionOut,
    FunctionUpdate,
    StatusOut,
)
from service_kit.problems import (
    BadRequest,
    Conflict,
    NotFound,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(tags=["functions"], dependencies=[Depends(require_app_token)])


@router.get(
    "/functions",
    summary="List functions with their input/output schemas",
    responses=problem_responses(BadRequest, Unauthorized, Unprocessable),
)
async def list_functions(
    session: SessionDep,
    runtime: RuntimeDep,
    plugin: str | None = None,
    category: str | None = None,
    execution_type: Literal["builtin", "oci", "http"] | None = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> FunctionList:
    """Ordered by slug. Pass the returned ``next_cursor`` as ``cursor`` for the next page."""
    where = FunctionFilter(plugin, category, execution_type, search, enabled)
    rows, next_cursor = await runtime.registry.page(session, where, cursor, limit)
    return FunctionList(
        items=[FunctionOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/functions",
    status_code=status.HTTP_201_CREATED,
    summary="Register an OCI or HTTP function",
    responses=problem_responses(Conflict, Unauthorized, Unprocessable),
)
async def create_function(
    body: FunctionCreate, session: SessionDep, runtime: RuntimeDep
) -> FunctionOut:
    row = await runtime.registry.create(session, body)
    return FunctionOut.model_validate(row)


@router.get(
    "/functions/{ref:path}",
    summary="One function, by slug (plugin/name) or id",
    responses=problem_responses(NotFound, Unauthorized),
)
async def get_function(ref: str, session: SessionDep, runtime: RuntimeDep) -> FunctionOut:
    return FunctionOut.model_validate(await runtime.registry.get(session, ref))


@router.patch(
    "/functions/{ref:path}",
    summary="Change a function (builtins: only enablement and execution limits)",
    responses=problem_responses(NotFound, Conflict, Unauthorized, Unprocessable),
)
async def update_function(
    ref: str, body: FunctionUpdate, session: SessionDep, runtime: RuntimeDep
) -> FunctionOut:
    row = await runtime.registry.update(session, ref, body)
    return FunctionOut.model_validate(row)


@router.delete(
    "/functions/{ref:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a registered function (builtins cannot be removed, only disabled)",
    responses=problem_responses(NotFound, Conflict, Unauthorized),
)
async def delete_function(ref: str, session: SessionDep, runtime: RuntimeDep) -> Response:
    await runtime.registry.delete(session, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


status_router = APIRouter(tags=["health"], dependencies=[Depends(require_app_token)])


@status_router.get(
    "/status",
    summary="Detailed status: function counts, executors, concurrency backend",
    responses=problem_responses(Unauthorized),
)
async def service_status(
    session: SessionDep, runtime: RuntimeDep, settings: SettingsDep
) -> StatusOut:
    await session.execute(text("SELECT 1"))
    counts = await runtime.registry.counts(session)
    return StatusOut(
        service="function-runner",
        version=__version__,
        mode=settings.mode,
        status="ok",
        database="ok",
        functions=counts,
        executors={"builtin": True, "http": True, "oci": runtime.oci_runner is not None},
        concurrency_backend=runtime.limiter.backend,
        uptime_seconds=round(time.monotonic() - runtime.started, 3),
    )
