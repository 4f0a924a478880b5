"""The token pair admin-api issues, and the expiry of an access token (read, not verified:
admin-api and the other services verify; the BFF only decides when to refresh)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from pydantic import BaseModel


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int | None = None

    @classmethod
    def from_response(cls, body: Any) -> TokenPair:
        """Accept OAuth2 names (``access_token``) and camelCase (``accessToken``), top level
        or under ``tokens``."""
        if isinstance(body, dict) and isinstance(body.get("tokens"), dict):
            body = body["tokens"]
        if not isinstance(body, dict):
            raise ValueError("token response is not an object")
        access = body.get("access_token") or body.get("accessToken")
        refresh = body.get("refresh_token") or body.get("refreshToken")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise ValueError("token response lacks access_token/refresh_token")
        expires = body.get("expires_in") or body.get("expiresIn")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_in=int(expires) if isinstance(expires, int | float) else None,
        )


def access_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (seconds since the epoch), or ``None`` if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def expires_soon(token: str, margin_seconds: int, now: float | None = None) -> bool:
    exp = access_expiry(token)
    if exp is None:
        return False
    return exp - (now if now is not None else time.time()) <= margin_seconds
