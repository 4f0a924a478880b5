"""Where the permission matrix is enforced: resolving a caller's effective role on a
resource and checking it against :mod:`admin_api.permissions`.

A resource the caller has no role on does not exist for them (404, nothing leaked);
one they can see but may not act on is 403. Every tenant-scoped route depends on
:class:`Authorize`, and the service-to-service ``/authz/check`` uses the same code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from sqlalchemy import false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.apikeys.models import ApiKey
from admin_api.audit.service import AuditDep
from admin_api.context import Actor, Tenant
from admin_api.deps import CurrentActor, SessionDep
from admin_api.permissions import Action, Role, allows, highest
from admin_api.tenancy.models import Company, Invitation, Membership, Organization, Project
from admin_api.workflows.models import Workflow
from service_kit.problems import Forbidden, NotFound

ResourceType = Literal["company", "organization", "project", "workflow", "api_key", "invitation"]
SCOPE_TYPES: tuple[str, ...] = ("company", "organization", "project")
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    resource_type: ResourceType
    resource_id: str
    role: Role
    tenant: Tenant


async def tenant_of(session: AsyncSession, kind: ResourceType, rid: str) -> Tenant | None:
    """The company/organization/project a resource lives in (None: no such resource)."""
    if not ID_RE.fullmatch(rid):
        return None
    if kind == "company":
        found = await session.scalar(select(Company.id).where(Company.id == rid))
        return Tenant(found) if found else None
    if kind == "organization":
        row = (
            await session.execute(select(Organization.company_id).where(Organization.id == rid))
        ).first()
        return Tenant(row[0], rid) if row else None
    if kind == "invitation":
        inv = await session.get(Invitation, rid)
        return await tenant_of(session, inv.scope_type, inv.scope_id) if inv else None  # type: ignore[arg-type]
    project_id: str | None = rid
    if kind == "workflow":
        project_id = await session.scalar(select(Workflow.project_id).where(Workflow.id == rid))
    elif kind == "api_key":
        project_id = await session.scalar(select(ApiKey.project_id).where(ApiKey.id == rid))
    if project_id is None:
        return None
    project = (
        await session.execute(
            select(Project.company_id, Project.organization_id).where(Project.id == project_id)
        )
    ).first()
    return Tenant(project[0], project[1], project_id) if project else None


async def role_on(session: AsyncSession, actor: Actor, tenant: Tenant) -> Role | None:
    """The caller's effective role: the highest of their memberships on the tenant and
    its ancestors; an API key has its role inside its own project only."""
    if actor.api_key is not None:
        inside = tenant.project_id is not None and tenant.project_id == actor.api_key.project_id
        return Role(actor.api_key.role) if inside else None
    if actor.id is None or actor.user is None:
        return None
    rows = await session.scalars(
        select(Membership.role).where(
            Membership.user_id == actor.id,
            or_(
                Membership.company_id == tenant.company_id,
                Membership.organization_id == tenant.organization_id
                if tenant.organization_id
                else false(),
                Membership.project_id == tenant.project_id if tenant.project_id else false(),
            ),
        )
    )
    return highest([Role(r) for r in rows])


async def resolve(session: AsyncSession, actor: Actor, kind: ResourceType, rid: str) -> Access:
    """The caller's access to a resource, or 404 when they cannot see it."""
    tenant = await tenant_of(session, kind, rid)
    role = await role_on(session, actor, tenant) if tenant else None
    if tenant is None or role is None:
        raise NotFound(f"{kind.replace('_', ' ')} {rid!r} was not found")
    return Access(resource_type=kind, resource_id=rid, role=role, tenant=tenant)


def require(access: Access, actor: Actor, action: Action) -> None:
    if not allows(access.role, action, api_key=actor.is_api_key):
        who = "an API key" if actor.is_api_key else f"role {access.role.value!r}"
        raise Forbidden(f"{who} may not {action.value} on this {access.resource_type}")


class Authorize:
    """Dependency: the caller may perform ``action`` on the resource named by the path
    parameter ``param`` (of type ``resource``). Returns the :class:`Access`."""

    def __init__(self, action: Action, resource: ResourceType, param: str) -> None:
        self.action = action
        self.resource = resource
        self.param = param

    async def __call__(
        self, request: Request, actor: CurrentActor, session: SessionDep, audit: AuditDep
    ) -> Access:
        rid = request.path_params[self.param]
        access = await resolve(session, actor, self.resource, rid)
        try:
            require(access, actor, self.action)
        except Forbidden as exc:
            if request.method in _MUTATING:
                await audit.record_failure(
                    actor,
                    self.action.value,
                    resource_type=self.resource,
                    resource_id=rid,
                    tenant=access.tenant,
                    detail={"reason": exc.detail, "role": access.role.value},
                )
            raise
        return access

    def __repr__(self) -> str:
        return f"Authorize({self.action.value}, {self.resource}, {self.param})"
