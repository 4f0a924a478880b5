"""The session cookies and how they are written.

- ``<prefix>_session``: the access token; httpOnly, SameSite=Lax, path ``/api``.
- ``<prefix>_refresh``: the refresh token; httpOnly, SameSite=Strict, path ``/api``.
- ``<prefix>_csrf``: the CSRF token the UI echoes in ``X-CSRF-Token``; readable by scripts.

All are ``Secure`` unless the BFF runs in embedded mode on plain-http localhost (or
``BUILDER_BFF_COOKIE_SECURE=false``). Tokens never reach JavaScript.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Literal

from starlette.types import Scope

REFRESH_MAX_AGE = 30 * 24 * 3600
CSRF_MAX_AGE = 30 * 24 * 3600


@dataclass(frozen=True)
class CookieNames:
    prefix: str

    @property
    def access(self) -> str:
        return f"{self.prefix}_session"

    @property
    def refresh(self) -> str:
        return f"{self.prefix}_refresh"

    @property
    def csrf(self) -> str:
        return f"{self.prefix}_csrf"


def cookie_header(
    name: str,
    value: str,
    *,
    max_age: int,
    secure: bool,
    http_only: bool = True,
    same_site: Literal["Lax", "Strict"] = "Lax",
    path: str = "/api",
) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = path
    morsel["max-age"] = str(max_age)
    morsel["samesite"] = same_site
    if http_only:
        morsel["httponly"] = True
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def queue_cookie(scope: Scope, header: str) -> None:
    """Ask the security middleware to add a ``Set-Cookie`` header to this response."""
    scope.setdefault("state", {}).setdefault("set_cookies", []).append(header)


def read_cookies(scope: Scope) -> dict[str, str]:
    raw = b"; ".join(v for k, v in scope.get("headers", ()) if k == b"cookie")
    if not raw:
        return {}
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw.decode("latin-1"))
    except Exception:  # a malformed cookie header means no cookies, not a 500
        return {}
    return {key: morsel.value for key, morsel in cookie.items()}
