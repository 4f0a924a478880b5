"""The public webhook URL of a deployed workflow: ``POST /hooks/{workflowId}``.

No session and no CSRF check (a webhook sender is another program, not a browser): the
request is relayed to admin-api's ``/api/v1/internal/webhooks/{workflowId}`` by Dapr
service invocation, which admits only this app, and admin-api verifies the signature or
bearer secret, the input schema, the rate limit and the ``Idempotency-Key``. The BFF passes
the raw body and the original query string unchanged, only the headers admin-api needs
(the sender's ``Authorization`` renamed ``X-WFB-Webhook-Authorization``, so it is never
mistaken for a caller's credentials), and relays admin-api's answer verbatim.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from builder_bff.session.deps import StateDep
from service_kit.problems import (
    BadGateway,
    BadRequest,
    GatewayTimeout,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
    Unprocessable,
    problem_responses,
)

router = APIRouter(tags=["webhooks"])
INTERNAL_PATH = "/api/v1/internal/webhooks"
FORWARDED_HEADERS = ("content-type", "idempotency-key", "x-wfb-timestamp", "x-wfb-signature")
RELAYED_HEADERS = frozenset(
    {"content-type", "retry-after", "location", "idempotent-replayed", "www-authenticate"}
)
"""The contract's list, plus the challenge HTTP requires on a 401."""
WORKFLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
DAPR_RETRY_AFTER = "5"


class MethodNotAllowed(ProblemError):
    status = 405


def forwarded_headers(request: Request) -> dict[str, str]:
    """The sender's headers admin-api needs, and nothing else."""
    headers = {name: value for name in FORWARDED_HEADERS if (value := request.headers.get(name))}
    if authorization := request.headers.get("authorization"):
        headers["x-wfb-webhook-authorization"] = authorization
    if request.client:
        forwarded = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = (
            f"{forwarded}, {request.client.host}" if forwarded else request.client.host
        )
    return headers


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading them all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the webhook body is {length} bytes; the limit is {limit}")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise PayloadTooLarge(f"the webhook body is larger than {limit} bytes")
    except ClientDisconnect:
        raise BadRequest("the sender disconnected before the body was complete") from None
    return bytes(body)


def dapr_error(response: httpx.Response) -> dict[str, Any] | None:
    """Dapr's own error (``{"errorCode": ..., "message": ...}``), not admin-api's answer."""
    if response.status_code < 400 or not response.content:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and "errorCode" in body and "title" not in body:
        return body
    return None


def relay(response: httpx.Response, app_id: str) -> Response:
    """admin-api's answer as it is; a problem of our own when admin-api could not answer."""
    if (error := dapr_error(response)) is not None:
        raise ServiceUnavailable(
            f"{app_id} is unavailable: {error.get('message') or error['errorCode']}",
            headers={"Retry-After": DAPR_RETRY_AFTER},
        )
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 500 and "json" not in content_type:
        raise BadGateway(
            f"{app_id} failed with status {response.status_code}",
            upstream_status=response.status_code,
        )
    headers = {k: v for k, v in response.headers.items() if k.lower() in RELAYED_HEADERS}
    return Response(content=response.content, status_code=response.status_code, headers=headers)


@router.post(
    "/hooks/{workflow_id}",
    summary="A deployed workflow's webhook (public: no session; signed or bearer secret)",
    description=(
        "Starts a run of the workflow's active version with the JSON body (plus query "
        "parameters) as trigger data. HMAC mode: `X-WFB-Timestamp: <unix seconds>` and "
        '`X-WFB-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`; '
        "bearer mode: `Authorization: Bearer <secret>`. Async mode answers 202 "
        "`{instanceId, firingId}`; sync mode 200 with the run's result when it ends in time."
    ),
    responses={
        200: {"description": "sync mode: the finished run"},
        202: {"description": "the run was started"},
        401: {"description": "missing or bad signature / secret, or a replayed signature"},
        415: {"description": "the body is not JSON"},
        429: {"description": "over the workflow's rate limit (see Retry-After)"},
        **problem_responses(
            NotFound, PayloadTooLarge, Unprocessable, BadGateway, ServiceUnavailable, GatewayTimeout
        ),
    },
)
async def receive_webhook(workflow_id: str, request: Request, state: StateDep) -> Response:
    if not WORKFLOW_ID.match(workflow_id):
        raise NotFound(f"no webhook at /hooks/{workflow_id}")
    settings = state.settings
    body = await read_body(request, settings.webhook_max_body_bytes)
    response = await state.invoker.forward(
        settings.admin_app_id,
        "POST",
        f"{INTERNAL_PATH}/{workflow_id}",
        query=request.url.query,
        content=body,
        headers=forwarded_headers(request),
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    return relay(response, settings.admin_app_id)


@router.api_route(
    "/hooks/{workflow_id}",
    methods=["GET", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def wrong_method(workflow_id: str) -> Response:
    raise MethodNotAllowed("webhooks accept POST only", headers={"Allow": "POST"})
