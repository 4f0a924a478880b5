"""Function catalog, function registration, credentials and definition validation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from builder_bff.admin.access import authorize
from builder_bff.catalog.service import CatalogCache, normalize_function
from builder_bff.catalog.validation import issues_json, validate_definition
from builder_bff.dapr import passthrough
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

router = APIRouter(prefix="/api", tags=["catalog"])
MANAGE = "tenant.update"
"""Registering functions and managing credentials: project admins (and owners)."""
UPSTREAM = (Unauthorized, BadGateway, ServiceUnavailable, GatewayTimeout)


def catalog_cache(request: Request) -> CatalogCache:
    cache: CatalogCache = request.app.state.catalog
    return cache


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any]


@router.get(
    "/functions",
    summary="The function catalog with input/output schemas",
    responses=problem_responses(*UPSTREAM),
)
async def list_functions(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    plugin: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    functions = await catalog_cache(request).functions(session)
    if plugin:
        functions = [f for f in functions if f.get("pluginId") == plugin]
    if q:
        needle = q.lower()
        functions = [
            f
            for f in functions
            if needle
            in " ".join(
                str(f.get(k) or "") for k in ("slug", "name", "description", "category")
            ).lower()
        ]
    return {"items": functions}


@router.post(
    "/functions",
    status_code=201,
    summary="Register an OCI or HTTP function (project admins)",
    responses=problem_responses(Forbidden, NotFound, Conflict, Unprocessable, *UPSTREAM),
)
async def register_function(
    request: Request,
    session: SessionDep,
    body: dict[str, Any],
    project_id: Annotated[str, Query(alias="projectId", min_length=1, max_length=100)],
) -> dict[str, Any]:
    await authorize(session, "project", project_id, MANAGE, "register functions")
    created = await session.service_json(
        session.state.settings.function_runner_app_id, "POST", "/functions", json_body=body
    )
    catalog_cache(request).invalidate()
    return normalize_function(created) if isinstance(created, dict) else {}


@router.post(
    "/validate",
    summary="Validate a definition against the catalog: node-level issues for the canvas",
    responses=problem_responses(Unprocessable, *UPSTREAM),
)
async def validate(request: Request, session: SessionDep, body: ValidateRequest) -> dict[str, Any]:
    catalog = await catalog_cache(request).catalog(session)
    report = validate_definition(body.definition, catalog)
    return {"ok": report.ok, "issues": issues_json(report)}


# --- credentials (function-runner owns them; values never come back) -----------------------
# The tenant of a stored credential is the project: runs pass their projectId label as
# function-runner's tenant id.

CREDENTIALS = "/credentials"
IDENT = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(default="default", pattern=IDENT)
    integration_type: str = Field(alias="integrationType", pattern=IDENT)
    values: dict[str, str] = Field(min_length=1, max_length=50)


def _tenant(project_id: str) -> dict[str, str]:
    return {"X-Tenant-ID": project_id}


@router.get(
    "/projects/{project_id}/credentials",
    summary="The project's stored credentials (names and integrations, never values)",
    responses=problem_responses(Forbidden, NotFound, *UPSTREAM),
)
async def list_credentials(project_id: str, session: SessionDep) -> Response:
    await authorize(session, "project", project_id, "tenant.read", "see credentials")
    app = session.state.settings.function_runner_app_id
    response = await session.service(app, "GET", CREDENTIALS, headers=_tenant(project_id))
    return passthrough(response, app)


@router.post(
    "/projects/{project_id}/credentials",
    status_code=201,
    summary="Store a credential for an integration (project admins)",
    responses=problem_responses(Forbidden, NotFound, Conflict, Unprocessable, *UPSTREAM),
)
async def create_credential(
    project_id: str, session: SessionDep, body: CredentialCreate
) -> Response:
    await authorize(session, "project", project_id, MANAGE, "manage credentials")
    app = session.state.settings.function_runner_app_id
    response = await session.service(
        app,
        "POST",
        CREDENTIALS,
        headers=_tenant(project_id),
        json_body={
            "name": body.name,
            "integration_type": body.integration_type,
            "values": body.values,
        },
    )
    return passthrough(response, app)


@router.delete(
    "/projects/{project_id}/credentials/{credential_id}",
    status_code=204,
    summary="Delete a credential (project admins)",
    responses=problem_responses(Forbidden, NotFound, *UPSTREAM),
)
async def delete_credential(project_id: str, credential_id: str, session: SessionDep) -> Response:
    await authorize(session, "project", project_id, MANAGE, "manage credentials")
    app = session.state.settings.function_runner_app_id
    response = await session.service(
        app, "DELETE", f"{CREDENTIALS}/{credential_id}", headers=_tenant(project_id)
    )
    return passthrough(response, app)
