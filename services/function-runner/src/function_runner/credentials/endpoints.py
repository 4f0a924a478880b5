"""``/credentials``: write-only secret values per tenant, and key rotation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from function_runner.credentials.repository import CredentialRepository
from function_runner.credentials.schemas import (
    CredentialCreate,
    CredentialList,
    CredentialOut,
    CredentialUpdate,
    RotationResult,
)
from function_runner.deps import RuntimeDep, SessionDep, require_app_token
from function_runner.functions.schemas import IDENT_PATTERN
from service_kit.problems import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(
    prefix="/credentials", tags=["credentials"], dependencies=[Depends(require_app_token)]
)
TenantId = Annotated[
    str,
    Header(
        alias="X-Tenant-ID",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$",
        description="Tenant that owns the credentials (set by the calling service)",
    ),
]
_ERRORS = (Unauthorized, Unprocessable, ServiceUnavailable)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Store a credential (values are encrypted and never returned)",
    responses=problem_responses(Conflict, *_ERRORS),
)
async def create_credential(
    body: CredentialCreate, tenant_id: TenantId, session: SessionDep, runtime: RuntimeDep
) -> CredentialOut:
    row = await runtime.credential_store.create(
        session, tenant_id, body.integration_type, body.name, body.values
    )
    return CredentialOut.model_validate(row)


@router.get(
    "", summary="List the tenant's credentials (names only)", responses=problem_responses(*_ERRORS)
)
async def list_credentials(
    tenant_id: TenantId,
    session: SessionDep,
    integration_type: Annotated[str | None, Query(pattern=IDENT_PATTERN)] = None,
) -> CredentialList:
    rows = await CredentialRepository(session).all_for(tenant_id, integration_type)
    return CredentialList(items=[CredentialOut.model_validate(r) for r in rows])


@router.get(
    "/{credential_id}",
    summary="One credential's metadata",
    responses=problem_responses(NotFound, *_ERRORS),
)
async def get_credential(
    credential_id: str, tenant_id: TenantId, session: SessionDep, runtime: RuntimeDep
) -> CredentialOut:
    row = await runtime.credential_store.get(session, tenant_id, credential_id)
    return CredentialOut.model_validate(row)


@router.put(
    "/{credential_id}",
    summary="Replace a credential's values",
    responses=problem_responses(NotFound, *_ERRORS),
)
async def replace_credential(
    credential_id: str,
    body: CredentialUpdate,
    tenant_id: TenantId,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CredentialOut:
    row = await runtime.credential_store.replace(session, tenant_id, credential_id, body.values)
    return CredentialOut.model_validate(row)


@router.delete(
    "/{credential_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a credential",
    responses=problem_responses(NotFound, *_ERRORS),
)
async def delete_credential(
    credential_id: str, tenant_id: TenantId, session: SessionDep, runtime: RuntimeDep
) -> Response:
    await runtime.credential_store.delete(session, tenant_id, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


rotation_router = APIRouter(tags=["credentials"], dependencies=[Depends(require_app_token)])


@rotation_router.post(
    "/credentials:reencrypt",
    summary="Re-encrypt every stored credential with the active key (after a key rotation)",
    responses=problem_responses(*_ERRORS),
)
async def reencrypt_credentials(session: SessionDep, runtime: RuntimeDep) -> RotationResult:
    changed = await runtime.credential_store.reencrypt(session)
    keyring = runtime.credential_store.keyring
    assert keyring is not None  # reencrypt raised otherwise
    return RotationResult(active_key_id=keyring.active_key_id, reencrypted=changed)
