"""Signing keys: loading or generating the private key, ``kid`` thumbprints, rotation and
the JWKS document.

The private key comes from settings (a PEM from the secret store, or a mounted file);
in embedded mode it is generated on first start and kept under the data dir (0600).
Public halves are stored in ``signing_keys`` so that after a rotation tokens signed by
the previous key keep verifying until the grace period ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.auth.models import SigningKey
from admin_api.db import utcnow
from admin_api.settings import Settings

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


@dataclass(frozen=True)
class KeyMaterial:
    kid: str
    algorithm: str
    private_key: PrivateKey
    public_jwk: dict[str, Any]


def generate_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def private_key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes, algorithm: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the JWT signing key is not a readable PEM private key: {exc}") from None
    expected = ed25519.Ed25519PrivateKey if algorithm == "EdDSA" else rsa.RSAPrivateKey
    if not isinstance(key, expected):
        raise ValueError(f"the JWT signing key does not fit the {algorithm} algorithm")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise ValueError("RSA signing keys must have at least 2048 bits")
    return key


def public_jwk(key: PrivateKey, algorithm: str) -> dict[str, Any]:
    """The public JWK with ``kid`` = its RFC 7638 thumbprint."""
    jwk: dict[str, Any] = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    kid = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


def material(key: PrivateKey, algorithm: str) -> KeyMaterial:
    jwk = public_jwk(key, algorithm)
    return KeyMaterial(kid=jwk["kid"], algorithm=algorithm, private_key=key, public_jwk=jwk)


def write_key_file(path: Path, key: PrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def load_configured_key(settings: Settings) -> KeyMaterial:
    """The signing key from settings; in embedded mode, generated on first use."""
    algorithm = settings.jwt_algorithm
    if settings.jwt_private_key is not None:
        pem = settings.jwt_private_key.get_secret_value().encode()
        return material(load_private_key(pem, algorithm), algorithm)
    path = settings.signing_key_path()
    if path.exists():
        return material(load_private_key(path.read_bytes(), algorithm), algorithm)
    if settings.jwt_private_key_file is not None or not settings.is_embedded:
        raise ValueError(f"the JWT signing key file {path} does not exist")
    key = generate_private_key(algorithm)
    write_key_file(path, key)
    return material(key, algorithm)


def rotate_key_file(settings: Settings) -> KeyMaterial:
    """Replace the key file with a new key (the old one is kept beside it as
    ``.retired-<time>``); the running service picks it up on its next start."""
    path = settings.signing_key_path()
    if path.exists():
        path.replace(path.with_name(f"{path.name}.retired-{utcnow():%Y%m%dT%H%M%S}"))
    key = generate_private_key(settings.jwt_algorithm)
    write_key_file(path, key)
    return material(key, settings.jwt_algorithm)


class KeyRing:
    """The active signing key plus the published (active and recently retired) keys."""

    def __init__(self, active: KeyMaterial, grace: timedelta) -> None:
        self.active = active
        self.grace = grace

    async def register(self, session: AsyncSession) -> None:
        """Record the active key and retire every other key (a rotation)."""
        now = utcnow()
        existing = await session.get(SigningKey, self.active.kid)
        if existing is None:
            session.add(
                SigningKey(
                    kid=self.active.kid,
                    algorithm=self.active.algorithm,
                    public_jwk=self.active.public_jwk,
                    created_at=now,
                )
            )
        elif existing.retired_at is not None:
            existing.retired_at = None  # a key brought back is active again
        await session.execute(
            update(SigningKey)
            .where(SigningKey.kid != self.active.kid, SigningKey.retired_at.is_(None))
            .values(retired_at=now)
        )

    async def jwks(self, session: AsyncSession, now: datetime | None = None) -> dict[str, Any]:
        cutoff = (now or utcnow()) - self.grace
        rows = await session.scalars(
            select(SigningKey)
            .where((SigningKey.retired_at.is_(None)) | (SigningKey.retired_at > cutoff))
            .order_by(SigningKey.created_at.desc())
        )
        keys = [row.public_jwk for row in rows if row.algorithm == self.active.algorithm]
        if not any(k["kid"] == self.active.kid for k in keys):
            keys.insert(0, self.active.public_jwk)
        return {"keys": keys}
