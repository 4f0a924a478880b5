"""Browser-facing protections, in one pure-ASGI middleware (so SSE streams pass untouched).

CSRF: every state-changing ``/api/*`` request (POST, PUT, PATCH, DELETE) must carry an
``X-CSRF-Token`` header equal to the ``<prefix>_csrf`` cookie (double submit: another site
can make the browser send the cookie but cannot read it to copy it into a header), and if
the browser names an ``Origin`` (or, lacking it, a ``Referer``), it must be this origin or an
allowed one. The token cookie is issued on the first response that finds none.

It also writes queued session cookies and sets security headers on every response.
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from builder_bff.session.cookies import (
    CSRF_MAX_AGE,
    CookieNames,
    cookie_header,
    new_csrf_token,
    read_cookies,
)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_SESSION_PREFIXES = ("/hooks/",)
"""Public endpoints for programs, not browsers: no CSRF check (it applies to ``/api/``
only) and no CSRF cookie."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class BrowserSecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        names: CookieNames,
        secure: bool,
        allowed_origins: list[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.names = names
        self.secure = secure
        self.allowed = {o.rstrip("/").lower() for o in allowed_origins}
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        cookies = read_cookies(scope)
        csrf_cookie = cookies.get(self.names.csrf)
        if path.startswith("/api/") and scope.get("method") in UNSAFE_METHODS:
            reason = self._csrf_failure(scope, csrf_cookie)
            if reason:
                await _problem(send, 403, "Forbidden", reason)
                return
            length = _header(scope, b"content-length")
            if length and length.isdigit() and int(length) > self.max_body_bytes:
                await _problem(
                    send,
                    413,
                    "Content Too Large",
                    f"the request body is larger than {self.max_body_bytes} bytes",
                )
                return
        issue_csrf = not csrf_cookie and not path.startswith(NO_SESSION_PREFIXES)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                for header in scope.get("state", {}).get("set_cookies", []):
                    headers.append((b"set-cookie", header.encode("latin-1")))
                if issue_csrf:
                    headers.append(
                        (
                            b"set-cookie",
                            cookie_header(
                                self.names.csrf,
                                new_csrf_token(),
                                max_age=CSRF_MAX_AGE,
                                secure=self.secure,
                                http_only=False,
                                path="/",
                            ).encode("latin-1"),
                        )
                    )
                existing = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", CSP.encode()),
                ):
                    if key not in existing:
                        headers.append((key, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _csrf_failure(self, scope: Scope, csrf_cookie: str | None) -> str | None:
        sent = _header(scope, b"x-csrf-token")
        if not csrf_cookie or not sent or not hmac.compare_digest(sent, csrf_cookie):
            return "missing or invalid CSRF token: send the X-CSRF-Token header with the value of the csrf cookie"
        claimed = _header(scope, b"origin")
        if claimed in (None, "null"):
            referer = _header(scope, b"referer")
            claimed = _origin_of(referer) if referer else None
        if claimed is None:
            return None
        host = _header(scope, b"host") or ""
        own = f"{scope.get('scheme', 'http')}://{host}".lower()
        if claimed.rstrip("/").lower() in {own, *self.allowed}:
            return None
        return f"cross-origin request from {claimed} refused"


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
