"""Tenancy rules: creating the hierarchy, unique slugs per parent, memberships with the
owner rules (owners are managed only by owners; a company keeps at least one owner),
invitations by link."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.auth.tokens import new_secret, sha256_hex
from admin_api.context import Actor
from admin_api.db import utcnow
from admin_api.permissions import RANK, Action, Role
from admin_api.schemas import slugify
from admin_api.settings import Settings
from admin_api.tenancy import repository as repo
from admin_api.tenancy.access import Access, require
from admin_api.tenancy.models import Company, Invitation, Membership, Organization, Project
from admin_api.tenancy.schemas import (
    InvitationCreate,
    MemberAdd,
    MemberUpdate,
    TenantCreate,
    TenantUpdate,
)
from admin_api.users import repository as users
from admin_api.users.models import User
from service_kit.problems import Conflict, Forbidden, NotFound

_log = logging.getLogger("admin_api.tenancy")
INVITE_PREFIX = "wfi_"


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(message) from None


async def _unique_slug(
    session: AsyncSession, model: Any, wanted: str | None, name: str, parent: Any
) -> str:
    """The given slug (409 if taken) or one derived from the name (suffixed if taken)."""
    if wanted:
        if await repo.slug_taken(session, model, wanted, parent):
            raise Conflict(f"the slug {wanted!r} is already used here", slug=wanted)
        return wanted
    base = slugify(name)
    candidate, n = base, 1
    while await repo.slug_taken(session, model, candidate, parent):
        n += 1
        suffix = f"-{n}"
        candidate = base[: 63 - len(suffix)] + suffix
    return candidate


def _owner_membership(user_id: str, **scope: str) -> Membership:
    scope_type = next(iter(scope)).removesuffix("_id")
    return Membership(
        user_id=user_id,
        role=Role.OWNER.value,
        scope_type=scope_type,
        created_by=user_id,
        created_at=utcnow(),
        **scope,
    )


async def create_company(session: AsyncSession, user_id: str, body: TenantCreate) -> Company:
    slug = await _unique_slug(session, Company, body.slug, body.name, None)
    company = Company(name=body.name, slug=slug, description=body.description, created_by=user_id)
    session.add(company)
    await flush_or_conflict(session, f"the slug {slug!r} is already used")
    session.add(_owner_membership(user_id, company_id=company.id))
    await session.flush()
    return company


async def create_organization(
    session: AsyncSession, company_id: str, actor: Actor, body: TenantCreate
) -> Organization:
    slug = await _unique_slug(session, Organization, body.slug, body.name, company_id)
    org = Organization(
        company_id=company_id,
        name=body.name,
        slug=slug,
        description=body.description,
        created_by=actor.id,
    )
    session.add(org)
    await flush_or_conflict(session, f"the slug {slug!r} is already used in this company")
    return org


async def create_project(
    session: AsyncSession, org: Organization, actor: Actor, body: TenantCreate
) -> Project:
    slug = await _unique_slug(session, Project, body.slug, body.name, org.id)
    project = Project(
        organization_id=org.id,
        company_id=org.company_id,
        name=body.name,
        slug=slug,
        description=body.description,
        created_by=actor.id,
    )
    session.add(project)
    await flush_or_conflict(session, f"the slug {slug!r} is already used in this organization")
    return project


async def bootstrap_default_tenant(session: AsyncSession, user: User) -> Project:
    """The first user of a fresh install owns a default company/organization/project."""
    company = await create_company(
        session, user.id, TenantCreate(name="Default", slug="default", description="")
    )
    actor = Actor.for_user(user)
    org = await create_organization(
        session, company.id, actor, TenantCreate(name="Default", slug="default")
    )
    return await create_project(session, org, actor, TenantCreate(name="Default", slug="default"))


def _parent_of(row: Any) -> Any:
    if isinstance(row, Organization):
        return row.company_id
    if isinstance(row, Project):
        return row.organization_id
    return None


async def update_tenant(session: AsyncSession, row: Any, body: TenantUpdate) -> Any:
    changes = body.model_dump(exclude_unset=True)
    slug = changes.get("slug")
    if (
        slug
        and slug != row.slug
        and await repo.slug_taken(session, type(row), slug, _parent_of(row))
    ):
        raise Conflict(f"the slug {changes['slug']!r} is already used here")
    for field, value in changes.items():
        if value is not None:
            setattr(row, field, value)
    row.updated_at = utcnow()
    await flush_or_conflict(session, "the slug is already used here")
    return row


async def get_scope(session: AsyncSession, scope_type: str, scope_id: str) -> Any:
    row = await session.get(repo.SCOPE_MODELS[scope_type], scope_id)
    if row is None:  # access was resolved first, so this is a concurrent delete
        raise NotFound(f"{scope_type} {scope_id!r} was not found")
    return row


# --- memberships -----------------------------------------------------------------------


def _needs_owner(access: Access, actor: Actor, *roles: str | None) -> None:
    """Granting, changing or removing the owner role is for owners only."""
    if Role.OWNER.value in roles:
        require(access, actor, Action.OWNERSHIP_TRANSFER)


async def _keep_an_owner(session: AsyncSession, scope_type: str, scope_id: str) -> None:
    if scope_type == "company" and await repo.owner_count(session, scope_type, scope_id) <= 1:
        raise Conflict("the last owner of a company cannot be removed or demoted")


async def add_member(
    session: AsyncSession, access: Access, actor: Actor, scope_type: str, body: MemberAdd
) -> tuple[Membership, User]:
    _needs_owner(access, actor, body.role)
    user = (
        await users.by_email(session, body.email)
        if body.email
        else await session.get(User, body.user_id)
    )
    if user is None:
        raise NotFound("no user has this email or id; send an invitation instead")
    if await repo.membership(session, user.id, scope_type, access.resource_id):
        raise Conflict("this user is already a member here; change their role instead")
    member = Membership(
        user_id=user.id,
        role=body.role,
        scope_type=scope_type,
        created_by=actor.id,
        created_at=utcnow(),
        **{f"{scope_type}_id": access.resource_id},
    )
    session.add(member)
    await flush_or_conflict(session, "this user is already a member here")
    return member, user


async def _member(
    session: AsyncSession, scope_type: str, scope_id: str, user_id: str
) -> Membership:
    member = await repo.membership(session, user_id, scope_type, scope_id)
    if member is None:
        raise NotFound(f"user {user_id!r} is not a member of this {scope_type}")
    return member


async def change_role(
    session: AsyncSession,
    access: Access,
    actor: Actor,
    scope_type: str,
    user_id: str,
    body: MemberUpdate,
) -> tuple[Membership, User]:
    member = await _member(session, scope_type, access.resource_id, user_id)
    _needs_owner(access, actor, member.role, body.role)
    if member.role == Role.OWNER.value and body.role != Role.OWNER.value:
        await _keep_an_owner(session, scope_type, access.resource_id)
    member.role = body.role
    user = await session.get(User, user_id)
    assert user is not None
    return member, user


async def remove_member(
    session: AsyncSession, access: Access, actor: Actor, scope_type: str, user_id: str
) -> Membership:
    member = await _member(session, scope_type, access.resource_id, user_id)
    _needs_owner(access, actor, member.role)
    if member.role == Role.OWNER.value:
        await _keep_an_owner(session, scope_type, access.resource_id)
    await session.delete(member)
    return member


async def transfer_ownership(
    session: AsyncSession, access: Access, actor: Actor, scope_type: str, user_id: str
) -> Membership:
    """``user_id`` (already a member here) becomes owner; the caller, if they were an
    owner here, becomes admin."""
    if user_id == actor.id:
        raise Conflict("you cannot transfer ownership to yourself")
    target = await _member(session, scope_type, access.resource_id, user_id)
    target.role = Role.OWNER.value
    mine = await repo.membership(session, actor.id or "", scope_type, access.resource_id)
    if mine is not None and mine.role == Role.OWNER.value:
        mine.role = Role.ADMIN.value
    return target


# --- invitations -----------------------------------------------------------------------


async def invite(
    session: AsyncSession,
    settings: Settings,
    access: Access,
    actor: Actor,
    scope_type: str,
    body: InvitationCreate,
) -> tuple[Invitation, str, str]:
    _needs_owner(access, actor, body.role)
    token, digest = new_secret(INVITE_PREFIX)
    invitation = Invitation(
        email=users.normalise_email(body.email),
        role=body.role,
        scope_type=scope_type,
        token_hash=digest,
        invited_by=actor.id or "",
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=settings.invitation_ttl_s),
        **{f"{scope_type}_id": access.resource_id},
    )
    session.add(invitation)
    await session.flush()
    link = f"{settings.public_url.rstrip('/')}/invitations/accept?token={token}"
    _log.info(
        "invitation to %s %s for %s: %s",
        scope_type,
        access.resource_id,
        invitation.email,
        link,
        extra={"invitation_id": invitation.id},
    )
    return invitation, token, link


async def revoke_invitation(session: AsyncSession, invitation_id: str) -> Invitation:
    invitation = await session.get(Invitation, invitation_id)
    assert invitation is not None
    if invitation.accepted_at is not None:
        raise Conflict("this invitation was already accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
    return invitation


async def accept_invitation(session: AsyncSession, user: User, token: str) -> Invitation:
    invitation: Invitation | None = await session.scalar(
        select(Invitation).where(Invitation.token_hash == sha256_hex(token))
    )
    now = utcnow()
    if (
        invitation is None
        or invitation.revoked_at is not None
        or invitation.accepted_at is not None
        or invitation.expires_at <= now
    ):
        raise NotFound("this invitation does not exist, was used, revoked, or has expired")
    if invitation.email != users.normalise_email(user.email):
        raise Forbidden("this invitation was sent to another email address")
    existing = await repo.membership(session, user.id, invitation.scope_type, invitation.scope_id)
    if existing is None:
        session.add(
            Membership(
                user_id=user.id,
                role=invitation.role,
                scope_type=invitation.scope_type,
                created_by=invitation.invited_by,
                created_at=now,
                company_id=invitation.company_id,
                organization_id=invitation.organization_id,
                project_id=invitation.project_id,
            )
        )
    elif RANK[Role(invitation.role)] > RANK[Role(existing.role)]:
        existing.role = invitation.role
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    await flush_or_conflict(session, "you are already a member here")
    return invitation
