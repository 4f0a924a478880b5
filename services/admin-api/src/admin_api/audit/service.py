"""Recording audit events (in the request's transaction, so an event is stored exactly
when the change it describes is)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.audit.models import AuditEvent
from admin_api.context import Actor, ClientInfo, Tenant
from admin_api.deps import ClientDep, SessionDep

_SECRET_KEYS = ("password", "token", "secret", "key_hash", "authorization")


def _scrub(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("[redacted]" if any(s in k.lower() for s in _SECRET_KEYS) else v)
        for k, v in detail.items()
    }


class AuditTrail:
    def __init__(self, session: AsyncSession, client: ClientInfo) -> None:
        self.session = session
        self.client = client

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        tenant: Tenant | None = None,
        success: bool = True,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        event = AuditEvent(
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_label=actor.label[:320],
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            company_id=tenant.company_id if tenant else None,
            organization_id=tenant.organization_id if tenant else None,
            project_id=tenant.project_id if tenant else None,
            ip=self.client.ip,
            user_agent=self.client.user_agent,
            success=success,
            detail=_scrub(detail or {}),
        )
        self.session.add(event)
        return event

    async def record_failure(self, actor: Actor, action: str, **kw: Any) -> None:
        """Record a refused attempt and commit it now: the request is about to fail and
        its transaction will be rolled back (only reads precede this)."""
        self.session.add(self.record(actor, action, success=False, **kw))
        await self.session.commit()


async def audit_trail(session: SessionDep, client: ClientDep) -> AuditTrail:
    return AuditTrail(session, client)


AuditDep = Annotated[AuditTrail, Depends(audit_trail)]
