"""Companies, organizations, projects; members and invitations at each of the three
scopes (the same routes, generated per scope)."""

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from admin_api.audit.service import AuditDep
from admin_api.deps import CurrentActor, SessionDep, SettingsDep, UserActor
from admin_api.openapi import LIST_ERRORS, WRITE_ERRORS, errors
from admin_api.pagination import Page, PageDep
from admin_api.permissions import Action
from admin_api.tenancy import repository as repo
from admin_api.tenancy import service
from admin_api.tenancy.access import Access, Authorize
from admin_api.tenancy.models import Company, Organization, Project
from admin_api.tenancy.schemas import (
    ID_PATTERN,
    CompanyOut,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MemberAdd,
    MemberOut,
    MemberUpdate,
    OrganizationOut,
    OwnershipTransfer,
    ProjectOut,
    TenantCreate,
    TenantUpdate,
)
from service_kit.problems import Conflict, NotFound

router = APIRouter(prefix="/api/v1", tags=["tenancy"])
UserIdPath = Annotated[str, Path(pattern=ID_PATTERN)]
NO_CONTENT = Response(status_code=status.HTTP_204_NO_CONTENT)


# --- companies ---------------------------------------------------------------------------


@router.post(
    "/companies",
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Create a company (you become its owner)",
)
async def create_company(
    body: TenantCreate, actor: UserActor, session: SessionDep, audit: AuditDep
) -> CompanyOut:
    assert actor.id is not None
    company = await service.create_company(session, actor.id, body)
    audit.record(
        actor,
        "company.create",
        resource_type="company",
        resource_id=company.id,
        tenant=_tenant(company),
        detail={"name": company.name, "slug": company.slug},
    )
    return CompanyOut.model_validate(company)


@router.get("/companies", responses=LIST_ERRORS, summary="Companies you are a member of")
async def list_companies(
    actor: CurrentActor, session: SessionDep, page: PageDep
) -> Page[CompanyOut]:
    if actor.id is None or actor.user is None:
        return Page(items=[])
    rows, cursor = await repo.page(session, repo.companies_of_user(actor.id), Company, page)
    return Page(items=[CompanyOut.model_validate(r) for r in rows], next_cursor=cursor)


# --- organizations -----------------------------------------------------------------------


@router.post("/companies/{companyId}/organizations", status_code=201, responses=WRITE_ERRORS)
async def create_organization(
    body: TenantCreate,
    access: Annotated[
        Access, Depends(Authorize(Action.TENANT_CREATE_CHILD, "company", "companyId"))
    ],
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> OrganizationOut:
    org = await service.create_organization(session, access.resource_id, actor, body)
    audit.record(
        actor,
        "organization.create",
        resource_type="organization",
        resource_id=org.id,
        tenant=_tenant(org),
        detail={"name": org.name, "slug": org.slug},
    )
    return OrganizationOut.model_validate(org)


@router.get("/companies/{companyId}/organizations", responses=LIST_ERRORS)
async def list_organizations(
    access: Annotated[Access, Depends(Authorize(Action.TENANT_READ, "company", "companyId"))],
    session: SessionDep,
    page: PageDep,
) -> Page[OrganizationOut]:
    from sqlalchemy import select

    stmt = select(Organization).where(Organization.company_id == access.resource_id)
    rows, cursor = await repo.page(session, stmt, Organization, page)
    return Page(items=[OrganizationOut.model_validate(r) for r in rows], next_cursor=cursor)


# --- projects ----------------------------------------------------------------------------


@router.post("/organizations/{organizationId}/projects", status_code=201, responses=WRITE_ERRORS)
async def create_project(
    body: TenantCreate,
    access: Annotated[
        Access, Depends(Authorize(Action.TENANT_CREATE_CHILD, "organization", "organizationId"))
    ],
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> ProjectOut:
    org = await service.get_scope(session, "organization", access.resource_id)
    project = await service.create_project(session, org, actor, body)
    audit.record(
        actor,
        "project.create",
        resource_type="project",
        resource_id=project.id,
        tenant=_tenant(project),
        detail={"name": project.name, "slug": project.slug},
    )
    return ProjectOut.model_validate(project)


@router.get("/organizations/{organizationId}/projects", responses=LIST_ERRORS)
async def list_organization_projects(
    access: Annotated[
        Access, Depends(Authorize(Action.TENANT_READ, "organization", "organizationId"))
    ],
    session: SessionDep,
    page: PageDep,
) -> Page[ProjectOut]:
    from sqlalchemy import select

    stmt = select(Project).where(Project.organization_id == access.resource_id)
    rows, cursor = await repo.page(session, stmt, Project, page)
    return Page(items=[ProjectOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get("/projects", responses=LIST_ERRORS, summary="Every project you can see (at any level)")
async def list_projects(
    actor: CurrentActor, session: SessionDep, page: PageDep
) -> Page[ProjectOut]:
    from sqlalchemy import select

    if actor.api_key is not None:
        stmt = select(Project).where(Project.id == actor.api_key.project_id)
    elif actor.id is not None:
        stmt = repo.projects_visible_to_user(actor.id)
    else:
        return Page(items=[])
    rows, cursor = await repo.page(session, stmt, Project, page)
    return Page(items=[ProjectOut.model_validate(r) for r in rows], next_cursor=cursor)


def add_scope_routes(scope: str, plural: str, param: str, out: type[CompanyOut]) -> None:
    """Read, update and delete of a company, organization or project (one shape)."""
    base = f"/{plural}/{{{param}}}"
    reader = Authorize(Action.TENANT_READ, scope, param)  # type: ignore[arg-type]
    updater = Authorize(Action.TENANT_UPDATE, scope, param)  # type: ignore[arg-type]
    deleter = Authorize(Action.TENANT_DELETE, scope, param)  # type: ignore[arg-type]

    async def read(access: Annotated[Access, Depends(reader)], session: SessionDep) -> Any:
        return out.model_validate(await service.get_scope(session, scope, access.resource_id))

    async def update(
        body: TenantUpdate,
        access: Annotated[Access, Depends(updater)],
        actor: CurrentActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> Any:
        row = await service.update_tenant(
            session, await service.get_scope(session, scope, access.resource_id), body
        )
        audit.record(
            actor,
            f"{scope}.update",
            resource_type=scope,
            resource_id=row.id,
            tenant=access.tenant,
            detail=body.model_dump(exclude_unset=True),
        )
        return out.model_validate(row)

    async def delete(
        access: Annotated[Access, Depends(deleter)],
        actor: CurrentActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> Response:
        await session.delete(await service.get_scope(session, scope, access.resource_id))
        audit.record(
            actor,
            f"{scope}.delete",
            resource_type=scope,
            resource_id=access.resource_id,
            tenant=access.tenant,
        )
        return NO_CONTENT

    router.add_api_route(
        base,
        read,
        methods=["GET"],
        response_model=out,
        responses=errors(),
        name=f"get_{scope}",
        summary=f"Read a {scope}",
    )
    router.add_api_route(
        base,
        update,
        methods=["PATCH"],
        response_model=out,
        responses=WRITE_ERRORS,
        name=f"update_{scope}",
        summary=f"Rename or describe a {scope}",
    )
    router.add_api_route(
        base,
        delete,
        methods=["DELETE"],
        status_code=204,
        responses=errors(),
        name=f"delete_{scope}",
        summary=f"Delete a {scope} and everything in it",
    )


for _scope, _plural, _param, _out in (
    ("company", "companies", "companyId", CompanyOut),
    ("organization", "organizations", "organizationId", OrganizationOut),
    ("project", "projects", "projectId", ProjectOut),
):
    add_scope_routes(_scope, _plural, _param, _out)


def _tenant(row: Any) -> Any:
    from admin_api.context import Tenant

    if isinstance(row, Company):
        return Tenant(row.id)
    if isinstance(row, Organization):
        return Tenant(row.company_id, row.id)
    return Tenant(row.company_id, row.organization_id, row.id)


# --- members and invitations, per scope ---------------------------------------------------


def _member_out(member: Any, user: Any) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=member.role,
        scope_type=member.scope_type,
        scope_id=member.scope_id,
        created_at=member.created_at,
    )


def _invitation_out(inv: Any) -> InvitationOut:
    return InvitationOut.model_validate({**_columns(inv), "scope_id": inv.scope_id})


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def add_member_routes(scope: str, plural: str, param: str) -> None:
    base = f"/{plural}/{{{param}}}"
    read = Authorize(Action.MEMBERS_READ, scope, param)  # type: ignore[arg-type]
    manage = Authorize(Action.MEMBERS_MANAGE, scope, param)  # type: ignore[arg-type]
    transfer = Authorize(Action.OWNERSHIP_TRANSFER, scope, param)  # type: ignore[arg-type]
    tags: list[str | Enum] = ["members"]

    async def list_members(
        access: Annotated[Access, Depends(read)], session: SessionDep, page: PageDep
    ) -> Page[MemberOut]:
        rows, cursor = await repo.members_page(session, scope, access.resource_id, page)
        return Page(items=[_member_out(m, u) for m, u in rows], next_cursor=cursor)

    async def add_member(
        body: MemberAdd,
        access: Annotated[Access, Depends(manage)],
        actor: UserActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> MemberOut:
        member, user = await service.add_member(session, access, actor, scope, body)
        audit.record(
            actor,
            "member.add",
            resource_type=scope,
            resource_id=access.resource_id,
            tenant=access.tenant,
            detail={"userId": user.id, "role": member.role},
        )
        return _member_out(member, user)

    async def change_member(
        userId: UserIdPath,
        body: MemberUpdate,
        access: Annotated[Access, Depends(manage)],
        actor: UserActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> MemberOut:
        member, user = await service.change_role(session, access, actor, scope, userId, body)
        audit.record(
            actor,
            "member.update",
            resource_type=scope,
            resource_id=access.resource_id,
            tenant=access.tenant,
            detail={"userId": userId, "role": body.role},
        )
        return _member_out(member, user)

    async def remove_member(
        userId: UserIdPath,
        access: Annotated[Access, Depends(manage)],
        actor: UserActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> Response:
        member = await service.remove_member(session, access, actor, scope, userId)
        audit.record(
            actor,
            "member.remove",
            resource_type=scope,
            resource_id=access.resource_id,
            tenant=access.tenant,
            detail={"userId": userId, "role": member.role},
        )
        return NO_CONTENT

    async def transfer_ownership(
        body: OwnershipTransfer,
        access: Annotated[Access, Depends(transfer)],
        actor: UserActor,
        session: SessionDep,
        audit: AuditDep,
    ) -> MemberOut:
        member = await service.transfer_ownership(session, access, actor, scope, body.user_id)
        audit.record(
            actor,
            "ownership.transfer",
            resource_type=scope,
            resource_id=access.resource_id,
            tenant=access.tenant,
            detail={"userId": body.user_id},
        )
        from admin_api.users.models import User

        user = await session.get(User, body.user_id)
        return _member_out(member, user)

    async def invite(
        body: InvitationCreate,
        access: Annotated[Access, Depends(manage)],
        actor: UserActor,
        session: SessionDep,
        settings: SettingsDep,
        audit: AuditDep,
    ) -> InvitationCreated:
        inv, token, link = await service.invite(session, settings, access, actor, scope, body)
        audit.record(
            actor,
            "invitation.create",
            resource_type="invitation",
            resource_id=inv.id,
            tenant=access.tenant,
            detail={"email": inv.email, "role": inv.role},
        )
        return InvitationCreated.model_validate(
            {**_invitation_out(inv).model_dump(), "token": token, "accept_url": link}
        )

    async def list_invitations(
        access: Annotated[Access, Depends(read)], session: SessionDep, page: PageDep
    ) -> Page[InvitationOut]:
        rows, cursor = await repo.pending_invitations(session, scope, access.resource_id, page)
        return Page(items=[_invitation_out(i) for i in rows], next_cursor=cursor)

    router.add_api_route(
        f"{base}/members",
        list_members,
        methods=["GET"],
        responses=LIST_ERRORS,
        tags=tags,
        name=f"list_{scope}_members",
        summary=f"Members of a {scope}",
    )
    router.add_api_route(
        f"{base}/members",
        add_member,
        methods=["POST"],
        status_code=201,
        responses=WRITE_ERRORS,
        tags=tags,
        name=f"add_{scope}_member",
        summary=f"Add an existing user to a {scope}",
    )
    router.add_api_route(
        f"{base}/members/{{userId}}",
        change_member,
        methods=["PATCH"],
        responses=WRITE_ERRORS,
        tags=tags,
        name=f"change_{scope}_member",
        summary="Change a member's role",
    )
    router.add_api_route(
        f"{base}/members/{{userId}}",
        remove_member,
        methods=["DELETE"],
        status_code=204,
        responses=WRITE_ERRORS,
        tags=tags,
        name=f"remove_{scope}_member",
        summary="Remove a member",
    )
    router.add_api_route(
        f"{base}/transfer-ownership",
        transfer_ownership,
        methods=["POST"],
        responses=WRITE_ERRORS,
        tags=tags,
        name=f"transfer_{scope}_ownership",
        summary="Make a member owner (you become admin here)",
    )
    router.add_api_route(
        f"{base}/invitations",
        invite,
        methods=["POST"],
        status_code=201,
        responses=WRITE_ERRORS,
        tags=tags,
        name=f"invite_to_{scope}",
        summary="Invite by email: the link is returned (and logged); no mail is sent",
    )
    router.add_api_route(
        f"{base}/invitations",
        list_invitations,
        methods=["GET"],
        responses=LIST_ERRORS,
        tags=tags,
        name=f"list_{scope}_invitations",
        summary="Pending invitations",
    )


for _scope, _plural, _param in (
    ("company", "companies", "companyId"),
    ("organization", "organizations", "organizationId"),
    ("project", "projects", "projectId"),
):
    add_member_routes(_scope, _plural, _param)


@router.delete(
    "/invitations/{invitationId}", status_code=204, responses=WRITE_ERRORS, tags=["members"]
)
async def revoke_invitation(
    access: Annotated[
        Access, Depends(Authorize(Action.MEMBERS_MANAGE, "invitation", "invitationId"))
    ],
    actor: CurrentActor,
    session: SessionDep,
    audit: AuditDep,
) -> Response:
    await service.revoke_invitation(session, access.resource_id)
    audit.record(
        actor,
        "invitation.revoke",
        resource_type="invitation",
        resource_id=access.resource_id,
        tenant=access.tenant,
    )
    return NO_CONTENT


@router.post("/invitations/accept", responses=errors(Conflict), tags=["members"])
async def accept_invitation(
    body: InvitationAccept, actor: UserActor, session: SessionDep, audit: AuditDep
) -> InvitationOut:
    assert actor.user is not None
    try:
        inv = await service.accept_invitation(session, actor.user, body.token)
    except NotFound:
        raise
    from admin_api.tenancy.access import tenant_of

    tenant = await tenant_of(session, inv.scope_type, inv.scope_id)  # type: ignore[arg-type]
    audit.record(
        actor,
        "invitation.accept",
        resource_type="invitation",
        resource_id=inv.id,
        tenant=tenant,
        detail={"role": inv.role},
    )
    return _invitation_out(inv)
