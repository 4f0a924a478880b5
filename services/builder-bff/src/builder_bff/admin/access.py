"""What the BFF asks admin-api: may the caller do this (``/api/v1/authz/check``, the
permission matrix admin-api enforces everywhere), the tenant tree, workflows and versions.

admin-api is the authority. A resource the caller has no role on is a 404 here too, so the
BFF never confirms that another tenant's id exists; one the caller can see but may not
act on is a 403 naming the action.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from builder_bff.session.deps import Session
from service_kit.problems import Forbidden, NotFound

V1 = "/api/v1"
AUTHZ_PATH = f"{V1}/authz/check"
ResourceType = Literal["company", "organization", "project", "workflow"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
SCOPE_ORDER = ("company", "organization", "project")


@dataclass(frozen=True)
class Grant:
    """The caller may act: their effective role and the resource's tenant."""

    role: str
    tenant: dict[str, str]

    @property
    def project_id(self) -> str | None:
        return self.tenant.get("projectId")


def items_of(body: Any) -> list[dict[str, Any]]:
    """A list response: a bare array or ``{"items": [...]}``."""
    if isinstance(body, list):
        return [x for x in body if isinstance(x, dict)]
    if isinstance(body, dict):
        for key in ("items", "data", "results"):
            if isinstance(body.get(key), list):
                return [x for x in body[key] if isinstance(x, dict)]
    return []


async def authorize(
    session: Session, resource: ResourceType, resource_id: str, action: str, what: str
) -> Grant:
    """Ask admin-api whether the caller may perform ``action`` on the resource."""
    body = await session.admin(
        "POST",
        AUTHZ_PATH,
        json_body={
            "token": await session.token(),
            "resource": {"type": resource, "id": resource_id},
            "action": action,
        },
    )
    body = body if isinstance(body, dict) else {}
    role = body.get("role")
    if not body.get("allowed"):
        if not isinstance(role, str):
            raise NotFound(f"{resource} {resource_id} not found")
        raise Forbidden(f"your role ({role}) does not allow you to {what}", action=action)
    raw_tenant = body.get("tenant")
    tenant: dict[str, Any] = raw_tenant if isinstance(raw_tenant, dict) else {}
    return Grant(
        role=str(role or ""),
        tenant={k: str(v) for k, v in tenant.items() if isinstance(v, str) and v},
    )


async def workflow(session: Session, workflow_id: str) -> dict[str, Any]:
    body = await session.admin("GET", f"{V1}/workflows/{workflow_id}")
    if not isinstance(body, dict):
        raise NotFound(f"workflow {workflow_id} not found")
    return body


async def version_definition(session: Session, workflow_id: str, version: int) -> dict[str, Any]:
    body = await session.admin("GET", f"{V1}/workflows/{workflow_id}/versions/{version}")
    definition = body.get("definition") if isinstance(body, dict) else None
    if not isinstance(definition, dict):
        raise NotFound(f"version {version} of workflow {workflow_id} has no definition")
    return definition


def effective_roles(memberships: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(scope type, id) -> role, from ``/auth/me``'s memberships."""
    roles: dict[tuple[str, str], str] = {}
    for m in memberships:
        scope = str(m.get("scopeType") or m.get("scope_type") or "")
        scope_id = str(m.get("scopeId") or m.get("scope_id") or "")
        role = str(m.get("role") or "")
        if scope and scope_id and role in RANK:
            key = (scope, scope_id)
            if RANK[role] > RANK.get(roles.get(key, ""), 0):
                roles[key] = role
    return roles


def _best(*roles: str | None) -> str | None:
    present = [r for r in roles if r]
    return max(present, key=lambda r: RANK.get(r, 0)) if present else None


async def tenant_tree(session: Session) -> list[dict[str, Any]]:
    """Companies > organizations > projects the caller can see, each with the caller's
    effective role (memberships inherit downwards)."""
    me = await session.admin("GET", f"{V1}/auth/me")
    memberships = me.get("memberships", []) if isinstance(me, dict) else []
    roles = effective_roles([m for m in memberships if isinstance(m, dict)])
    companies = items_of(await session.admin("GET", f"{V1}/companies", params={"limit": 200}))

    async def company_node(company: dict[str, Any]) -> dict[str, Any]:
        company_role = roles.get(("company", str(company["id"])))
        orgs = items_of(
            await session.admin(
                "GET", f"{V1}/companies/{company['id']}/organizations", params={"limit": 200}
            )
        )

        async def org_node(org: dict[str, Any]) -> dict[str, Any]:
            org_role = _best(company_role, roles.get(("organization", str(org["id"]))))
            projects = items_of(
                await session.admin(
                    "GET", f"{V1}/organizations/{org['id']}/projects", params={"limit": 200}
                )
            )
            return {
                **_pick(org),
                "role": org_role,
                "projects": [
                    {**_pick(p), "role": _best(org_role, roles.get(("project", str(p["id"]))))}
                    for p in projects
                ],
            }

        return {
            **_pick(company),
            "role": company_role,
            "organizations": list(await asyncio.gather(*(org_node(o) for o in orgs))),
        }

    tree = list(await asyncio.gather(*(company_node(c) for c in companies)))
    return tree + await _shared_projects(session, tree, roles, memberships)


SHARED = "Shared with you"


async def _shared_projects(
    session: Session,
    tree: list[dict[str, Any]],
    roles: dict[tuple[str, str], str],
    memberships: list[Any],
) -> list[dict[str, Any]]:
    """Projects the caller sees through an organization or project membership only (an
    invited member): admin-api lists them in ``/projects`` but not their company, whose
    name they may not read. They are grouped by company and organization; names come from
    the caller's memberships where there is one, else a neutral label."""
    known = {p["id"] for c in tree for o in c["organizations"] for p in o["projects"]}
    visible = items_of(await session.admin("GET", f"{V1}/projects", params={"limit": 200}))
    names = {
        (str(m.get("scopeType")), str(m.get("scopeId"))): str(m.get("name") or "")
        for m in memberships
        if isinstance(m, dict)
    }
    companies: dict[str, dict[str, Any]] = {}
    for p in visible:
        pid = str(p.get("id") or "")
        cid = str(p.get("companyId") or "")
        oid = str(p.get("organizationId") or "")
        if not pid or not cid or not oid or pid in known:
            continue
        company = companies.setdefault(
            cid, {"id": cid, "name": SHARED, "role": None, "organizations": []}
        )
        org = next((o for o in company["organizations"] if o["id"] == oid), None)
        if org is None:
            org = {
                "id": oid,
                "name": names.get(("organization", oid)) or SHARED,
                "role": roles.get(("organization", oid)),
                "projects": [],
            }
            company["organizations"].append(org)
        role = _best(roles.get(("organization", oid)), roles.get(("project", pid)))
        org["projects"].append({**_pick(p), "role": role})
    return list(companies.values())


def _pick(entity: dict[str, Any]) -> dict[str, Any]:
    return {k: entity.get(k) for k in ("id", "name", "slug") if k in entity}
