"""The encrypted credential store and the resolution order used for every run."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from function_runner.credentials.crypto import DecryptionError, Keyring, associated_data
from function_runner.credentials.models import Credential
from function_runner.credentials.repository import CredentialRepository
from function_runner.credentials.secretstore import SecretStore
from service_kit.problems import Conflict, NotFound, ServiceUnavailable

_log = logging.getLogger(__name__)
Source = Literal["secret_store", "run", "database", "none"]


class CredentialStore:
    """Encrypts on write, decrypts on read; never returns values through the API."""

    def __init__(self, keyring: Keyring | None) -> None:
        self.keyring = keyring

    def _require_keyring(self) -> Keyring:
        if self.keyring is None:
            raise ServiceUnavailable(
                "no credential encryption key is configured "
                "(FUNCTION_RUNNER_CREDENTIAL_KEYS or the secret store)"
            )
        return self.keyring

    def _seal(self, row: Credential, values: Mapping[str, str]) -> None:
        keyring = self._require_keyring()
        plaintext = json.dumps(dict(values), sort_keys=True).encode()
        key_id, nonce, ciphertext = keyring.encrypt(
            plaintext, associated_data(row.tenant_id, row.id)
        )
        row.key_id, row.nonce, row.ciphertext = key_id, nonce, ciphertext
        row.field_names = sorted(values)

    def open(self, row: Credential) -> dict[str, str]:
        keyring = self._require_keyring()
        plaintext = keyring.decrypt(
            row.key_id, row.nonce, row.ciphertext, associated_data(row.tenant_id, row.id)
        )
        loaded: dict[str, Any] = json.loads(plaintext)
        return {str(k): str(v) for k, v in loaded.items()}

    async def create(
        self,
        session: AsyncSession,
        tenant_id: str,
        integration_type: str,
        name: str,
        values: Mapping[str, str],
    ) -> Credential:
        repo = CredentialRepository(session)
        if await repo.by_name(tenant_id, integration_type, name) is not None:
            raise Conflict(
                f"a credential {name!r} for {integration_type!r} already exists; "
                "PUT new values to it"
            )
        row = Credential(
            id=uuid.uuid4().hex, tenant_id=tenant_id, integration_type=integration_type, name=name
        )
        self._seal(row, values)
        repo.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(f"a credential {name!r} for {integration_type!r} exists") from None
        return row

    async def get(self, session: AsyncSession, tenant_id: str, credential_id: str) -> Credential:
        row = await CredentialRepository(session).get(tenant_id, credential_id)
        if row is None:
            raise NotFound(f"credential {credential_id!r} does not exist")
        return row

    async def replace(
        self, session: AsyncSession, tenant_id: str, credential_id: str, values: Mapping[str, str]
    ) -> Credential:
        row = await self.get(session, tenant_id, credential_id)
        self._seal(row, values)
        await session.flush()
        return row

    async def delete(self, session: AsyncSession, tenant_id: str, credential_id: str) -> None:
        row = await self.get(session, tenant_id, credential_id)
        await CredentialRepository(session).delete(row)

    async def reencrypt(self, session: AsyncSession, batch: int = 500) -> int:
        """Re-encrypt every row not under the active key; returns how many changed."""
        keyring = self._require_keyring()
        repo = CredentialRepository(session)
        changed = 0
        while rows := await repo.not_under_key(keyring.active_key_id, batch):
            for row in rows:
                self._seal(row, self.open(row))
            await session.flush()
            changed += len(rows)
        return changed

    async def lookup(
        self, session: AsyncSession, tenant_id: str, integration_type: str, name: str
    ) -> dict[str, str] | None:
        row = await CredentialRepository(session).by_name(tenant_id, integration_type, name)
        if row is None or self.keyring is None:
            return None
        try:
            return self.open(row)
        except DecryptionError as exc:
            _log.error(
                "stored credential cannot be decrypted",
                extra={"credential_id": row.id, "reason": str(exc)},
            )
            return None


@dataclass(frozen=True)
class Resolved:
    values: dict[str, str]
    source: Source


class CredentialResolver:
    """Resolution order: Dapr secret store -> ``integrations`` of the run -> encrypted DB
    store. The first source holding a non-empty set of fields wins (fields are not mixed
    across sources)."""

    def __init__(
        self,
        secret_store: SecretStore | None,
        store: CredentialStore,
        sessions: async_sessionmaker[AsyncSession],
        key_template: str,
    ) -> None:
        self.secret_store = secret_store
        self.store = store
        self.sessions = sessions
        self.key_template = key_template

    async def resolve(
        self,
        integration_type: str | None,
        *,
        tenant_id: str,
        run_integrations: Mapping[str, Mapping[str, Any]] | None,
        credential_name: str = "default",
    ) -> Resolved:
        if not integration_type:
            return Resolved({}, "none")
        if self.secret_store is not None:
            found = await self.secret_store.get(
                self.key_template.format(integration=integration_type)
            )
            if found:
                return Resolved(found, "secret_store")
        passed = (run_integrations or {}).get(integration_type)
        if passed:
            return Resolved({str(k): _text(v) for k, v in passed.items() if v is not None}, "run")
        async with self.sessions() as session:
            stored = await self.store.lookup(session, tenant_id, integration_type, credential_name)
        if stored:
            return Resolved(stored, "database")
        return Resolved({}, "none")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
