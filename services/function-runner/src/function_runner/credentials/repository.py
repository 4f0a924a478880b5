"""Every query on the ``credentials`` table."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from function_runner.credentials.models import Credential


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, credential_id: str) -> Credential | None:
        result = await self.session.execute(
            select(Credential).where(
                Credential.tenant_id == tenant_id, Credential.id == credential_id
            )
        )
        return result.scalar_one_or_none()

    async def by_name(self, tenant_id: str, integration_type: str, name: str) -> Credential | None:
        result = await self.session.execute(
            select(Credential).where(
                Credential.tenant_id == tenant_id,
                Credential.integration_type == integration_type,
                Credential.name == name,
            )
        )
        return result.scalar_one_or_none()

    async def all_for(self, tenant_id: str, integration_type: str | None) -> list[Credential]:
        query = select(Credential).where(Credential.tenant_id == tenant_id)
        if integration_type:
            query = query.where(Credential.integration_type == integration_type)
        query = query.order_by(Credential.integration_type, Credential.name)
        return list((await self.session.execute(query)).scalars())

    async def not_under_key(self, key_id: str, limit: int) -> list[Credential]:
        result = await self.session.execute(
            select(Credential).where(Credential.key_id != key_id).limit(limit)
        )
        return list(result.scalars())

    def add(self, credential: Credential) -> None:
        self.session.add(credential)

    async def delete(self, credential: Credential) -> None:
        await self.session.execute(delete(Credential).where(Credential.id == credential.id))
