"""Tenants, workflows and versions (admin-api), for the UI.

``/api/admin/<path>`` passes the caller's requests to admin-api's ``/api/v1/<path>`` for the
resources the UI manages there (tenants, members, workflows, versions, deploy/stop, audit,
dashboard): admin-api authorizes each one against the caller's role and answers 404 for
other tenants' ids. The composed views (tenant tree, workflow list with last runs) are
built here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from builder_bff.admin.access import V1, authorize, items_of, tenant_tree
from builder_bff.dapr import UpstreamProblem, passthrough
from builder_bff.session.deps import Session, SessionDep
from service_kit.problems import (
    BadGateway,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    PayloadTooLarge,
    ProblemError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(prefix="/api", tags=["tenants"])
UPSTREAM = (Unauthorized, BadGateway, ServiceUnavailable, GatewayTimeout)
PROXIED_ROOTS = frozenset(
    {
        "companies",
        "organizations",
        "projects",
        "workflows",
        "audit",
        "dashboard",
        "invitations",
        "members",
        "api-keys",
        "executions",
    }
)


@router.get(
    "/tenants",
    summary="Companies > organizations > projects the caller can see",
    responses=problem_responses(*UPSTREAM),
)
async def tenants(session: SessionDep) -> dict[str, Any]:
    return {"companies": await tenant_tree(session)}


async def last_run(session: Session, project_id: str, workflow_id: str) -> dict[str, Any] | None:
    try:
        body = await session.as_user_json(
            session.state.settings.orchestrator_app_id,
            "GET",
            "/api/v2/workflows",
            params={"label": f"projectId:{project_id}", "workflowId": workflow_id, "limit": 1},
        )
    except (ProblemError, UpstreamProblem):
        return None  # runs are extra information here: the list still shows
    runs = items_of(body)
    return runs[0] if runs else None


@router.get(
    "/projects/{project_id}/workflows",
    summary="A project's workflows with their status and last run",
    responses=problem_responses(Forbidden, NotFound, *UPSTREAM),
)
async def project_workflows(project_id: str, session: SessionDep) -> dict[str, Any]:
    await authorize(session, "project", project_id, "workflow.read", "see its workflows")
    body = await session.admin(
        "GET", f"{V1}/projects/{project_id}/workflows", params={"limit": 200}
    )
    workflows = items_of(body)
    runs = await asyncio.gather(
        *(last_run(session, project_id, str(w.get("id"))) for w in workflows)
    )
    return {"items": [{**w, "lastRun": run} for w, run in zip(workflows, runs, strict=True)]}


async def admin_proxy(path: str, request: Request, session: SessionDep) -> Response:
    root = path.split("/", 1)[0]
    if root not in PROXIED_ROOTS or ".." in path.split("/"):
        raise NotFound(f"/api/admin/{path} is not a resource the builder exposes")
    body = await request.body()
    limit = session.state.settings.max_body_bytes
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    app = session.state.settings.admin_app_id
    params = list(request.query_params.multi_items())
    response = await session.call(
        app,
        request.method,
        f"{V1}/{path}",
        params=params or None,
        content=body if body else None,
    )
    return passthrough(response, app)


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/admin/{path:path}",
        admin_proxy,
        methods=[_method],
        operation_id=f"admin_proxy_{_method.lower()}",
        summary="admin-api resources as the caller (tenants, workflows, versions, deploy, audit)",
        responses=problem_responses(
            Forbidden, NotFound, Conflict, Unprocessable, PayloadTooLarge, *UPSTREAM
        ),
    )
