"""Webhook secrets: generated per workflow, sealed with AES-256-GCM under a key from
settings (embedded mode generates one under the data dir), never stored in plain text."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.db import utcnow
from admin_api.settings import Settings
from admin_api.triggers.models import WebhookSecret
from service_kit.problems import ServiceUnavailable

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class SecretBox:
    """Seals and opens webhook secrets; bound to the workflow id (associated data), so a
    sealed secret copied to another workflow's row does not open."""

    def __init__(self, key: bytes | None, reason: str = "") -> None:
        if key is not None and len(key) != 32:
            raise ValueError("the webhook secret key must be 32 bytes")
        self._aead = AESGCM(key) if key is not None else None
        self.key_id = hashlib.sha256(key).hexdigest()[:16] if key is not None else ""
        self.reason = reason

    def _require(self) -> AESGCM:
        if self._aead is None:
            raise ServiceUnavailable(self.reason or "webhook secrets are not configured")
        return self._aead

    def seal(self, workflow_id: str, secret: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._require().encrypt(nonce, secret.encode(), workflow_id.encode())

    def open(self, workflow_id: str, nonce: bytes, ciphertext: bytes) -> str:
        try:
            plain = self._require().decrypt(nonce, ciphertext, workflow_id.encode())
        except InvalidTag:
            raise ServiceUnavailable(
                "the webhook secret cannot be decrypted with the configured key"
            ) from None
        return plain.decode()


def load_secret_box(settings: Settings) -> SecretBox:
    if settings.trigger_secret_key is not None:
        return SecretBox(_decode(settings.trigger_secret_key.get_secret_value()))
    path = settings.trigger_key_path()
    if path.exists():
        return SecretBox(_decode(path.read_text().strip()))
    if settings.trigger_secret_key_file is not None or not settings.is_embedded:
        return SecretBox(
            None,
            "webhook secrets need a key: set ADMIN_API_TRIGGER_SECRET_KEY (base64 of 32 bytes) "
            "or ADMIN_API_TRIGGER_SECRET_KEY_FILE",
        )
    key = os.urandom(32)
    _write_key_file(path, base64.b64encode(key).decode())
    return SecretBox(key)


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret key must be base64 of 32 bytes") from None


def _write_key_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def ensure_secret(session: AsyncSession, box: SecretBox, workflow_id: str) -> str:
    """The workflow's secret, created on first use."""
    row = await session.get(WebhookSecret, workflow_id)
    if row is not None:
        return box.open(workflow_id, row.nonce, row.ciphertext)
    secret = new_secret()
    nonce, sealed = box.seal(workflow_id, secret)
    session.add(
        WebhookSecret(
            workflow_id=workflow_id,
            key_id=box.key_id,
            nonce=nonce,
            ciphertext=sealed,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return secret


async def rotate_secret(session: AsyncSession, box: SecretBox, workflow_id: str) -> str:
    secret = new_secret()
    nonce, sealed = box.seal(workflow_id, secret)
    row = await session.get(WebhookSecret, workflow_id)
    if row is None:
        row = WebhookSecret(workflow_id=workflow_id, created_at=utcnow())
        session.add(row)
    row.key_id, row.nonce, row.ciphertext, row.rotated_at = box.key_id, nonce, sealed, utcnow()
    await session.flush()
    return secret


async def stored_secret(session: AsyncSession, box: SecretBox, workflow_id: str) -> str | None:
    row = await session.get(WebhookSecret, workflow_id)
    return box.open(workflow_id, row.nonce, row.ciphertext) if row is not None else None
