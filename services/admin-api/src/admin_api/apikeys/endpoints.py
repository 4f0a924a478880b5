"""API keys of a project: create (the secret is shown once), list, revoke."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from admin_api.apikeys import service
from admin_api.apikeys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from admin_api.audit.service import AuditDep
from admin_api.deps import SessionDep, UserActor
from admin_api.openapi import LIST_ERRORS, WRITE_ERRORS, errors
from admin_api.pagination import Page, PageDep
from admin_api.permissions import Action
from admin_api.tenancy.access import Access, Authorize

router = APIRouter(prefix="/api/v1", tags=["api keys"])

ProjectKeyManager = Annotated[
    Access, Depends(Authorize(Action.APIKEYS_MANAGE, "project", "projectId"))
]
KeyManager = Annotated[Access, Depends(Authorize(Action.APIKEYS_MANAGE, "api_key", "keyId"))]


@router.post(
    "/projects/{projectId}/api-keys",
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Create an API key with a role in this project (the key is shown only now)",
)
async def create_api_key(
    body: ApiKeyCreate,
    access: ProjectKeyManager,
    actor: UserActor,
    session: SessionDep,
    audit: AuditDep,
) -> ApiKeyCreated:
    assert actor.id is not None
    key, token = await service.create(session, access.resource_id, body, actor.id)
    audit.record(
        actor,
        "apikey.create",
        resource_type="api_key",
        resource_id=key.id,
        tenant=access.tenant,
        detail={"name": key.name, "role": key.role, "prefix": key.prefix},
    )
    return ApiKeyCreated.model_validate(
        {**ApiKeyOut.model_validate(key).model_dump(), "key": token}
    )


@router.get("/projects/{projectId}/api-keys", responses=LIST_ERRORS)
async def list_api_keys(
    access: ProjectKeyManager, session: SessionDep, page: PageDep
) -> Page[ApiKeyOut]:
    rows, cursor = await service.list_for_project(session, access.resource_id, page)
    return Page(items=[ApiKeyOut.model_validate(k) for k in rows], next_cursor=cursor)


@router.delete(
    "/api-keys/{keyId}", status_code=204, responses=errors(), summary="Revoke an API key (at once)"
)
async def revoke_api_key(
    access: KeyManager, actor: UserActor, session: SessionDep, audit: AuditDep
) -> Response:
    assert actor.id is not None
    key = await service.revoke(session, access.resource_id, actor.id)
    audit.record(
        actor,
        "apikey.revoke",
        resource_type="api_key",
        resource_id=key.id,
        tenant=access.tenant,
        detail={"prefix": key.prefix},
    )
    return Response(status_code=204)
