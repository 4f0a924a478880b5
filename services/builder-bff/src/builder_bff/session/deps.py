"""The browser session of a request: tokens from cookies, refreshed transparently."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from builder_bff.dapr import Invoker, raise_for_problem
from builder_bff.session.cookies import REFRESH_MAX_AGE, CookieNames, cookie_header, queue_cookie
from builder_bff.session.refresh import Refresher
from builder_bff.session.tokens import TokenPair, access_expiry, expires_soon
from builder_bff.settings import Settings
from service_kit.problems import BadGateway, Unauthorized

ME_PATH = "/api/v1/auth/me"


class BffState:
    """What every request handler shares (built in the lifespan)."""

    def __init__(self, settings: Settings, invoker: Invoker) -> None:
        self.settings = settings
        self.invoker = invoker
        self.names = CookieNames(settings.cookie_prefix)
        self.refresher = Refresher(invoker, settings.admin_app_id)


async def bff_state(request: Request) -> BffState:
    state: BffState = request.app.state.bff
    return state


StateDep = Annotated[BffState, Depends(bff_state)]


def write_session_cookies(request: Request, state: BffState, pair: TokenPair) -> None:
    secure = state.settings.secure_cookies
    exp = access_expiry(pair.access_token)
    access_age = int(exp - time.time()) if exp else (pair.expires_in or 900)
    queue_cookie(
        request.scope,
        cookie_header(
            state.names.access, pair.access_token, max_age=max(access_age, 60), secure=secure
        ),
    )
    queue_cookie(
        request.scope,
        cookie_header(
            state.names.refresh,
            pair.refresh_token,
            max_age=REFRESH_MAX_AGE,
            secure=secure,
            same_site="Strict",
        ),
    )


def clear_session_cookies(request: Request, state: BffState) -> None:
    secure = state.settings.secure_cookies
    for name in (state.names.access, state.names.refresh):
        queue_cookie(request.scope, cookie_header(name, "", max_age=0, secure=secure))


def client_headers(request: Request) -> dict[str, str]:
    """Who the caller is, for admin-api's rate limits and audit log."""
    headers = {}
    if request.client:
        forwarded = request.headers.get("x-forwarded-for")
        headers["X-Forwarded-For"] = (
            f"{forwarded}, {request.client.host}" if forwarded else request.client.host
        )
    if ua := request.headers.get("user-agent"):
        headers["User-Agent"] = ua[:300]
    return headers


class Session:
    """The caller's tokens; ``call`` sends a request to another service as the caller."""

    def __init__(self, request: Request, state: BffState) -> None:
        self.request = request
        self.state = state
        self.access: str | None = request.cookies.get(state.names.access)
        self.refresh_token: str | None = request.cookies.get(state.names.refresh)
        self._refreshed = False
        self._user: dict[str, Any] | None = None

    @property
    def present(self) -> bool:
        return bool(self.access or self.refresh_token)

    async def token(self) -> str:
        margin = self.state.settings.refresh_margin_seconds
        if self.access and (self._refreshed or not expires_soon(self.access, margin)):
            return self.access
        return await self.renew()

    async def renew(self) -> str:
        if not self.refresh_token:
            raise Unauthorized("log in to continue")
        try:
            pair = await self.state.refresher.refresh(self.refresh_token)
        except Unauthorized:
            clear_session_cookies(self.request, self.state)
            raise
        self.access, self.refresh_token, self._refreshed = (
            pair.access_token,
            pair.refresh_token,
            True,
        )
        write_session_cookies(self.request, self.state, pair)
        return pair.access_token

    async def call(self, app_id: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send as the caller; on a 401 renew the session once and try again."""
        headers = {**client_headers(self.request), **kw.pop("headers", {})}
        response = await self.state.invoker.request(
            app_id, method, path, token=await self.token(), headers=headers, **kw
        )
        if response.status_code == 401 and not self._refreshed and self.refresh_token:
            response = await self.state.invoker.request(
                app_id, method, path, token=await self.renew(), headers=headers, **kw
            )
        if response.status_code == 401:
            raise Unauthorized("your session has ended; log in again")
        return response

    async def json(self, app_id: str, method: str, path: str, **kw: Any) -> Any:
        response = await self.call(app_id, method, path, **kw)
        raise_for_problem(app_id, response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def as_user(self, app_id: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send to a service that verifies the caller itself (the orchestrator), with the
        user's token, after the BFF authorized the caller: defence in depth, and the user
        (not the BFF) is who approved or stopped a run. A 401 after one renewal means that
        service rejects tokens admin-api just accepted: a 502, not a logout."""
        headers = {**client_headers(self.request), **kw.pop("headers", {})}
        response = await self.state.invoker.request(
            app_id, method, path, token=await self.token(), headers=headers, **kw
        )
        if response.status_code == 401 and not self._refreshed and self.refresh_token:
            # renew() raises Unauthorized (and clears the cookies) if the session has ended
            response = await self.state.invoker.request(
                app_id, method, path, token=await self.renew(), headers=headers, **kw
            )
        if response.status_code == 401:
            raise BadGateway(
                f"{app_id} refused a session admin-api accepts; check its token verification"
            )
        if response.status_code == 403:
            raise BadGateway(f"{app_id} refused an action admin-api allows (HTTP 403)")
        return response

    async def as_user_json(self, app_id: str, method: str, path: str, **kw: Any) -> Any:
        response = await self.as_user(app_id, method, path, **kw)
        raise_for_problem(app_id, response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def service(self, app_id: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send as the builder itself (Dapr service identity, no user token): for services
        the BFF has already authorized the caller for (orchestrator, function-runner).
        Their 401/403 means the platform's service credentials are wrong, not the user's."""
        headers = {**client_headers(self.request), **kw.pop("headers", {})}
        response = await self.state.invoker.request(app_id, method, path, headers=headers, **kw)
        if response.status_code in (401, 403):
            raise BadGateway(
                f"{app_id} refused the builder's service credentials "
                f"(HTTP {response.status_code}); check the Dapr app API token and allowed callers"
            )
        return response

    async def service_json(self, app_id: str, method: str, path: str, **kw: Any) -> Any:
        response = await self.service(app_id, method, path, **kw)
        raise_for_problem(app_id, response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def admin(self, method: str, path: str, **kw: Any) -> Any:
        return await self.json(self.state.settings.admin_app_id, method, path, **kw)

    async def user(self) -> dict[str, Any]:
        if self._user is None:
            body = await self.admin("GET", ME_PATH)
            self._user = body.get("user", body) if isinstance(body, dict) else {}
        return self._user


async def current_session(request: Request, state: StateDep) -> Session:
    session = Session(request, state)
    if not session.present:
        raise Unauthorized("log in to continue")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
