"""API keys: ``wfb_<public id>_<secret>``; only a SHA-256 of the whole key is stored
(the secret has 256 bits, so a fast hash is safe), the public id is shown in lists."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.apikeys.models import ApiKey
from admin_api.apikeys.schemas import ApiKeyCreate
from admin_api.auth.tokens import sha256_hex
from admin_api.db import utcnow
from admin_api.pagination import PageParams, keyset, page_of

KEY_PREFIX = "wfb_"
LAST_USED_RESOLUTION = timedelta(seconds=60)


def new_api_key() -> tuple[str, str]:
    public = secrets.token_hex(6)
    return f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}", f"{KEY_PREFIX}{public}"


async def authenticate_api_key(session: AsyncSession, token: str) -> ApiKey | None:
    """The active key for ``token`` (updating its last-used time), else None."""
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        return None
    key: ApiKey | None = await session.scalar(
        select(ApiKey).where(ApiKey.token_hash == sha256_hex(token))
    )
    now = utcnow()
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= now:
        return None
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


async def create(
    session: AsyncSession, project_id: str, body: ApiKeyCreate, created_by: str
) -> tuple[ApiKey, str]:
    token, prefix = new_api_key()
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    key = ApiKey(
        project_id=project_id,
        name=body.name,
        prefix=prefix,
        token_hash=sha256_hex(token),
        role=body.role,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=expires,
    )
    session.add(key)
    await session.flush()
    return key, token


async def list_for_project(
    session: AsyncSession, project_id: str, params: PageParams
) -> tuple[list[ApiKey], str | None]:
    stmt = keyset(
        select(ApiKey).where(ApiKey.project_id == project_id),
        [ApiKey.created_at, ApiKey.id],
        params,
    )
    rows = list(await session.scalars(stmt))
    return page_of(rows, params, lambda k: [k.created_at, k.id])


async def revoke(session: AsyncSession, key_id: str, by: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    assert key is not None  # access was resolved before
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = by
    return key
