"""Login, registration, logout and the session probe the UI starts with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from builder_bff.dapr import UpstreamProblem
from builder_bff.session.cookies import read_cookies
from builder_bff.session.deps import (
    ME_PATH,
    Session,
    SessionDep,
    StateDep,
    clear_session_cookies,
    client_headers,
    write_session_cookies,
)
from builder_bff.session.tokens import TokenPair
from service_kit.problems import (
    BadGateway,
    Conflict,
    Forbidden,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    problem_responses,
)

router = APIRouter(prefix="/api/auth", tags=["session"])

LOGIN_PATH = "/api/v1/auth/login"
REGISTER_PATH = "/api/v1/auth/register"
LOGOUT_PATH = "/api/v1/auth/logout"


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class Registration(Credentials):
    name: str | None = Field(default=None, max_length=200)


class SessionInfo(BaseModel):
    authenticated: bool
    user: dict[str, Any] | None = None
    csrfToken: str | None = None


def _user_of(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        user = body.get("user")
        if isinstance(user, dict):
            return user
    return {}


async def _login(request: Request, state: StateDep, creds: Credentials) -> dict[str, Any]:
    body = await state.invoker.json(
        state.settings.admin_app_id,
        "POST",
        LOGIN_PATH,
        json_body={"email": creds.email, "password": creds.password},
        headers=client_headers(request),
    )
    try:
        pair = TokenPair.from_response(body)
    except ValueError as exc:
        raise BadGateway(f"admin-api login answered without tokens: {exc}") from exc
    write_session_cookies(request, state, pair)
    user = _user_of(body)
    if not user:
        me = await state.invoker.json(
            state.settings.admin_app_id, "GET", ME_PATH, token=pair.access_token
        )
        user = _user_of(me) or (me if isinstance(me, dict) else {})
    return user


@router.get("/session", summary="Who is logged in (and the CSRF token)", response_model=SessionInfo)
async def session_info(request: Request, state: StateDep) -> SessionInfo:
    csrf = read_cookies(request.scope).get(state.names.csrf)
    session = Session(request, state)
    if not session.present:
        return SessionInfo(authenticated=False, csrfToken=csrf)
    try:
        user = await session.user()
    except Unauthorized:
        clear_session_cookies(request, state)
        return SessionInfo(authenticated=False, csrfToken=csrf)
    return SessionInfo(authenticated=True, user=user, csrfToken=csrf)


@router.post(
    "/login",
    summary="Log in; sets the session cookies",
    responses=problem_responses(
        Unauthorized, Forbidden, Unprocessable, TooManyRequests, ServiceUnavailable
    ),
)
async def login(creds: Credentials, request: Request, state: StateDep) -> dict[str, Any]:
    return {"user": await _login(request, state, creds)}


@router.post(
    "/register",
    status_code=201,
    summary="Create an account and log in",
    responses=problem_responses(Conflict, Unprocessable, TooManyRequests, ServiceUnavailable),
)
async def register(reg: Registration, request: Request, state: StateDep) -> dict[str, Any]:
    payload: dict[str, Any] = {"email": reg.email, "password": reg.password}
    if reg.name:
        payload["displayName"] = reg.name
    body = await state.invoker.json(
        state.settings.admin_app_id,
        "POST",
        REGISTER_PATH,
        json_body=payload,
        headers=client_headers(request),
    )
    try:
        pair = TokenPair.from_response(body)
    except ValueError:
        return {
            "user": await _login(
                request, state, Credentials(email=reg.email, password=reg.password)
            )
        }
    write_session_cookies(request, state, pair)
    return {"user": _user_of(body) or body}


@router.post(
    "/logout",
    status_code=204,
    summary="Log out: revokes the refresh token and clears the cookies",
    responses=problem_responses(ServiceUnavailable),
)
async def logout(request: Request, session: SessionDep, state: StateDep) -> Response:
    try:
        if session.refresh_token:
            await state.invoker.json(
                state.settings.admin_app_id,
                "POST",
                LOGOUT_PATH,
                token=session.access,
                json_body={"refresh_token": session.refresh_token},
                headers=client_headers(request),
            )
    except UpstreamProblem:
        pass  # already revoked or expired: the cookies go anyway
    finally:
        clear_session_cookies(request, state)
    return Response(status_code=204)
