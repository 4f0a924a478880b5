"""Every query on companies, organizations, projects, memberships and invitations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.pagination import PageParams, keyset, page_of
from admin_api.tenancy.models import Company, Invitation, Membership, Organization, Project
from admin_api.users.models import User

SCOPE_MODELS: dict[str, Any] = {
    "company": Company,
    "organization": Organization,
    "project": Project,
}
SCOPE_COLUMNS = {
    "company": Membership.company_id,
    "organization": Membership.organization_id,
    "project": Membership.project_id,
}


async def slug_taken(session: AsyncSession, model: Any, slug: str, parent: Any = None) -> bool:
    stmt = select(model.id).where(model.slug == slug)
    if model is Organization:
        stmt = stmt.where(Organization.company_id == parent)
    elif model is Project:
        stmt = stmt.where(Project.organization_id == parent)
    return (await session.scalar(stmt)) is not None


async def page(
    session: AsyncSession, stmt: Any, model: Any, params: PageParams
) -> tuple[list[Any], str | None]:
    rows = list(await session.scalars(keyset(stmt, [model.created_at, model.id], params)))
    return page_of(rows, params, lambda r: [r.created_at, r.id])


def companies_of_user(user_id: str) -> Any:
    return select(Company).where(
        exists().where(Membership.user_id == user_id, Membership.company_id == Company.id)
    )


def projects_visible_to_user(user_id: str) -> Any:
    return select(Project).where(
        exists().where(
            Membership.user_id == user_id,
            or_(
                Membership.company_id == Project.company_id,
                Membership.organization_id == Project.organization_id,
                Membership.project_id == Project.id,
            ),
        )
    )


async def membership(
    session: AsyncSession, user_id: str, scope_type: str, scope_id: str
) -> Membership | None:
    found: Membership | None = await session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, SCOPE_COLUMNS[scope_type] == scope_id
        )
    )
    return found


async def owner_count(session: AsyncSession, scope_type: str, scope_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                SCOPE_COLUMNS[scope_type] == scope_id, Membership.role == "owner"
            )
        )
        or 0
    )


async def members_page(
    session: AsyncSession, scope_type: str, scope_id: str, params: PageParams
) -> tuple[list[tuple[Membership, User]], str | None]:
    stmt = keyset(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(SCOPE_COLUMNS[scope_type] == scope_id),
        [Membership.created_at, Membership.id],
        params,
    )
    rows = [(m, u) for m, u in (await session.execute(stmt)).all()]
    return page_of(rows, params, lambda r: [r[0].created_at, r[0].id])


async def user_memberships(session: AsyncSession, user_id: str) -> list[Membership]:
    return list(
        await session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.created_at)
        )
    )


async def pending_invitations(
    session: AsyncSession, scope_type: str, scope_id: str, params: PageParams
) -> tuple[list[Invitation], str | None]:
    column = {
        "company": Invitation.company_id,
        "organization": Invitation.organization_id,
        "project": Invitation.project_id,
    }[scope_type]
    stmt = select(Invitation).where(
        column == scope_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
    )
    return await page(session, stmt, Invitation, params)
