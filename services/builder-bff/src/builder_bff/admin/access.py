"""What the BFF asks admin-api: the tenant tree, workflows and versions, and the caller's
role on a project. admin-api is the authority: a resource of another tenant is a 404 there,
so the BFF never learns it exists."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from builder_bff.session.deps import Session
from service_kit.problems import Forbidden, NotFound

Role = Literal["viewer", "editor", "admin", "owner"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
Need = Literal["read", "run", "write", "admin"]
NEEDS: dict[Need, str] = {"read": "viewer", "run": "editor", "write": "editor", "admin": "admin"}

V1 = "/api/v1"


def items_of(body: Any) -> list[dict[str, Any]]:
    """A list response: a bare array or ``{"items": [...]}``."""
    if isinstance(body, list):
        return [x for x in body if isinstance(x, dict)]
    if isinstance(body, dict):
        for key in ("items", "data", "results"):
            if isinstance(body.get(key), list):
                return [x for x in body[key] if isinstance(x, dict)]
    return []


def role_of(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    for key in ("role", "myRole", "effectiveRole", "effective_role", "callerRole"):
        value = body.get(key)
        if isinstance(value, str) and value in RANK:
            return value
    return None


def require_role(role: str | None, need: Need, what: str) -> None:
    minimum = NEEDS[need]
    if role is None or RANK.get(role, 0) < RANK[minimum]:
        raise Forbidden(
            f"you need the {minimum} role on this project to {what}", required_role=minimum
        )


async def project(session: Session, project_id: str) -> dict[str, Any]:
    body = await session.admin("GET", f"{V1}/projects/{project_id}")
    if not isinstance(body, dict):
        raise NotFound(f"project {project_id} not found")
    return body


async def project_role(session: Session, project_id: str) -> str | None:
    return role_of(await project(session, project_id))


async def require_project(
    session: Session, project_id: str, need: Need, what: str
) -> dict[str, Any]:
    body = await project(session, project_id)
    require_role(role_of(body), need, what)
    return body


async def workflow(session: Session, workflow_id: str) -> dict[str, Any]:
    body = await session.admin("GET", f"{V1}/workflows/{workflow_id}")
    if not isinstance(body, dict):
        raise NotFound(f"workflow {workflow_id} not found")
    return body


def workflow_project_id(wf: dict[str, Any]) -> str:
    value = wf.get("projectId") or wf.get("project_id")
    if not isinstance(value, str):
        raise NotFound("workflow has no project")
    return value


async def require_workflow(
    session: Session, workflow_id: str, need: Need, what: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The workflow and its project, once the caller's role allows ``need``."""
    wf = await workflow(session, workflow_id)
    proj = await require_project(session, workflow_project_id(wf), need, what)
    return wf, proj


async def version_definition(session: Session, workflow_id: str, version: int) -> dict[str, Any]:
    body = await session.admin("GET", f"{V1}/workflows/{workflow_id}/versions/{version}")
    definition = body.get("definition") if isinstance(body, dict) else None
    if not isinstance(definition, dict):
        raise NotFound(f"version {version} of workflow {workflow_id} has no definition")
    return definition


async def tenant_tree(session: Session) -> list[dict[str, Any]]:
    companies = items_of(await session.admin("GET", f"{V1}/companies", params={"limit": 200}))

    async def orgs_of(company: dict[str, Any]) -> dict[str, Any]:
        orgs = items_of(
            await session.admin(
                "GET", f"{V1}/companies/{company['id']}/organizations", params={"limit": 200}
            )
        )

        async def projects_of(org: dict[str, Any]) -> dict[str, Any]:
            projects = items_of(
                await session.admin(
                    "GET", f"{V1}/organizations/{org['id']}/projects", params={"limit": 200}
                )
            )
            return {
                **_pick(org),
                "projects": [
                    {**_pick(p), **({"role": r} if (r := role_of(p)) else {})} for p in projects
                ],
            }

        return {
            **_pick(company),
            "organizations": list(await asyncio.gather(*(projects_of(o) for o in orgs))),
        }

    return list(await asyncio.gather(*(orgs_of(c) for c in companies)))


def _pick(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: entity.get(k) for k in ("id", "name", "slug") if k in entity}
