"""``POST /execute``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse

from function_runner.deps import RuntimeDep, SettingsDep, require_app_token
from function_runner.execute.schemas import ExecuteRequest, ExecuteResponse
from function_runner.execute.service import ExecuteService
from service_kit.problems import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

OPTIONAL_EXTRAS = (
    "error_code",
    "retryable",
    "retry_after_seconds",
    "error_details",
    "job_name",
    "pod_name",
    "function_version",
)

router = APIRouter(tags=["execute"], dependencies=[Depends(require_app_token)])


async def _size_limit(
    settings: SettingsDep, content_length: Annotated[int | None, Header()] = None
) -> None:
    if content_length is not None and content_length > settings.max_request_bytes:
        raise PayloadTooLarge(
            f"request body is {content_length} bytes; the limit is {settings.max_request_bytes}"
        )


@router.post(
    "/execute",
    summary="Run a function for one workflow step",
    dependencies=[Depends(_size_limit)],
    response_model=ExecuteResponse,
    responses=problem_responses(
        NotFound, Conflict, Unprocessable, TooManyRequests, PayloadTooLarge, Unauthorized
    ),
)
async def execute(body: ExecuteRequest, runtime: RuntimeDep) -> JSONResponse:
    """Function-level failures are ``200`` with ``success: false`` (and ``error_code``,
    ``retryable``, ``retry_after_seconds``); problems with the request itself are 4xx:
    unknown function 404, disabled/deprecated 409, invalid input 422 (field ``errors``),
    ``max_concurrency`` reached 429 with ``Retry-After``.

    Seed 003's four fields (``success``, ``data``, ``error``, ``duration_ms``) are always
    present; the optional extras only when they carry a value."""
    result, replayed = await ExecuteService(runtime).execute(body)
    payload = result.model_dump(mode="json")
    for extra in OPTIONAL_EXTRAS:
        if payload.get(extra) is None:
            payload.pop(extra, None)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(payload, headers=headers)
