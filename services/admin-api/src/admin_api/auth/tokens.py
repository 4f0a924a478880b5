"""Access tokens (JWT signed with the active key) and opaque secrets (refresh tokens,
API keys, invitation tokens) stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

import jwt

from admin_api.auth.keys import KeyRing
from admin_api.db import utcnow
from admin_api.settings import Settings

REFRESH_PREFIX = "wfr_"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(prefix: str) -> tuple[str, str]:
    """A fresh opaque secret and its SHA-256 (what is stored)."""
    token = prefix + secrets.token_urlsafe(32)
    return token, sha256_hex(token)


class TokenIssuer:
    def __init__(self, keyring: KeyRing, settings: Settings) -> None:
        self.keyring = keyring
        self.settings = settings

    def access_token(self, user_id: str, email: str) -> tuple[str, int]:
        now = utcnow()
        ttl = self.settings.access_token_ttl_s
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": user_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=ttl)).timestamp()),
            "jti": uuid.uuid4().hex,
            "kind": "user",
            "email": email,
        }
        key = self.keyring.active
        token = jwt.encode(
            claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid}
        )
        return token, ttl
