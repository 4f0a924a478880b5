"""Reading the audit log (admins and owners of a scope), one's own sign-in events, and
recording events from other services (Dapr callers only)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from admin_api.audit.models import AuditEvent
from admin_api.audit.schemas import ID_PATTERN, AuditEventOut, ExternalAuditEvent
from admin_api.audit.service import AuditDep
from admin_api.context import Actor, Tenant
from admin_api.deps import InternalCaller, SessionDep, UserActor
from admin_api.openapi import LIST_ERRORS, errors
from admin_api.pagination import Page, PageDep, PageParams, keyset, page_of
from admin_api.permissions import Action
from admin_api.tenancy.access import Access, Authorize

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditFilters:
    def __init__(
        self,
        action: Annotated[
            str | None,
            Query(
                pattern=r"^[a-z][a-z0-9_.-]{0,63}$",
                description="exact action, or a prefix ending in '.'",
            ),
        ] = None,
        actor_id: Annotated[str | None, Query(alias="actorId", pattern=ID_PATTERN)] = None,
        resource_type: Annotated[
            str | None, Query(alias="resourceType", pattern=r"^[a-z_]{1,32}$")
        ] = None,
        resource_id: Annotated[str | None, Query(alias="resourceId", pattern=ID_PATTERN)] = None,
        success: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.action = action
        self.actor_id = actor_id
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.success = success
        self.since = since
        self.until = until

    def apply(self, stmt: Any) -> Any:
        if self.action:
            stmt = stmt.where(
                AuditEvent.action.startswith(self.action, autoescape=True)
                if self.action.endswith(".")
                else AuditEvent.action == self.action
            )
        for column, value in (
            (AuditEvent.actor_id, self.actor_id),
            (AuditEvent.resource_type, self.resource_type),
            (AuditEvent.resource_id, self.resource_id),
            (AuditEvent.success, self.success),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if self.since:
            stmt = stmt.where(AuditEvent.occurred_at >= _aware(self.since))
        if self.until:
            stmt = stmt.where(AuditEvent.occurred_at < _aware(self.until))
        return stmt


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


Filters = Annotated[AuditFilters, Depends()]


async def _page(session: SessionDep, stmt: Any, params: PageParams) -> Page[AuditEventOut]:
    rows = list(await session.scalars(keyset(stmt, [AuditEvent.id], params, descending=True)))
    items, cursor = page_of(rows, params, lambda e: [e.id])
    return Page(items=[AuditEventOut.model_validate(e) for e in items], next_cursor=cursor)


def add_scope_route(scope: str, plural: str, param: str) -> None:
    reader = Authorize(Action.AUDIT_READ, scope, param)  # type: ignore[arg-type]
    column = getattr(AuditEvent, f"{scope}_id")

    async def read_audit(
        access: Annotated[Access, Depends(reader)],
        session: SessionDep,
        page: PageDep,
        filters: Filters,
    ) -> Page[AuditEventOut]:
        stmt = filters.apply(select(AuditEvent).where(column == access.resource_id))
        return await _page(session, stmt, page)

    router.add_api_route(
        f"/{plural}/{{{param}}}/audit",
        read_audit,
        methods=["GET"],
        responses=LIST_ERRORS,
        name=f"read_{scope}_audit",
        summary=f"Audit events of a {scope} and everything in it, newest first",
    )


for _scope, _plural, _param in (
    ("company", "companies", "companyId"),
    ("organization", "organizations", "organizationId"),
    ("project", "projects", "projectId"),
):
    add_scope_route(_scope, _plural, _param)


@router.get(
    "/auth/events", responses=LIST_ERRORS, summary="Your own sign-in and token events, newest first"
)
async def my_auth_events(
    actor: UserActor, session: SessionDep, page: PageDep, filters: Filters
) -> Page[AuditEventOut]:
    stmt = filters.apply(
        select(AuditEvent).where(
            AuditEvent.actor_id == actor.id, AuditEvent.action.startswith("auth.")
        )
    )
    return await _page(session, stmt, page)


@router.post(
    "/internal/audit-events",
    status_code=201,
    responses=errors(),
    tags=["internal"],
    summary="Record an event that happened in another service, e.g. an approval (Dapr callers only)",
)
async def record_external_event(
    body: ExternalAuditEvent, caller: InternalCaller, audit: AuditDep, session: SessionDep
) -> AuditEventOut:
    actor = Actor(kind=body.actor_kind, id=body.actor_id, label=body.actor_label)
    tenant = (
        Tenant(body.tenant.company_id, body.tenant.organization_id, body.tenant.project_id)
        if body.tenant
        else None
    )
    event = audit.record(
        actor,
        body.action,
        resource_type=body.resource_type,
        resource_id=body.resource_id,
        tenant=tenant,
        success=body.success,
        detail={**body.detail, "recordedBy": caller},
    )
    await session.flush()
    return AuditEventOut.model_validate(event)
