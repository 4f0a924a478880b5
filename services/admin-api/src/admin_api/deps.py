"""Dependencies every route uses, as ``Annotated`` aliases: the unit of work, the caller,
the client's address, the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.context import Actor, ClientInfo
from admin_api.settings import Settings
from service_kit.auth import (
    AuthError,
    JwtVerifier,
    credential_from_request,
    dapr_caller_dependency,
    looks_like_jwt,
)
from service_kit.problems import Forbidden, Unauthorized


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back when it
    raises (code that must keep a record of a failure commits before raising)."""
    async with request.app.state.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def client_info(request: Request) -> ClientInfo:
    ip = request.client.host if request.client else None
    agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=agent[:300] if agent else None)


ClientDep = Annotated[ClientInfo, Depends(client_info)]


async def current_actor(request: Request, session: SessionDep) -> Actor:
    from admin_api.apikeys.service import authenticate_api_key
    from admin_api.users.models import User

    token = credential_from_request(request)
    if token is None:
        raise Unauthorized("authentication required: send a bearer token or an API key")
    if looks_like_jwt(token):
        verifier: JwtVerifier = request.app.state.verifier
        try:
            claims = await verifier.verify(token)
        except AuthError as exc:
            raise Unauthorized(str(exc)) from None
        if claims.get("kind", "user") != "user":
            raise Unauthorized("this token does not identify a user")
        user = await session.get(User, claims["sub"])
        if user is None:
            raise Unauthorized("the token's user no longer exists")
        return Actor.for_user(user, credential=token)
    key = await authenticate_api_key(session, token)
    if key is None:
        raise Unauthorized("the API key is unknown, revoked or expired")
    return Actor(
        kind="api_key", id=key.id, label=f"key:{key.prefix}", api_key=key, credential=token
    )


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def current_user_actor(actor: CurrentActor) -> Actor:
    if actor.user is None:
        raise Forbidden("this action needs a signed-in user, not an API key")
    return actor


UserActor = Annotated[Actor, Depends(current_user_actor)]


def _internal_callers(request: Request) -> list[str]:
    return list(request.app.state.settings.internal_callers)


def _app_api_token(request: Request) -> str | None:
    token = request.app.state.settings.app_api_token
    return token.get_secret_value() if token is not None else None


InternalCaller = Annotated[str, Depends(dapr_caller_dependency(_internal_callers, _app_api_token))]
"""Another platform service calling through Dapr service invocation."""
