"""``Annotated`` dependencies so route signatures read like sentences."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from function_runner.settings import Settings
from service_kit.problems import Unauthorized

if TYPE_CHECKING:
    from function_runner.runtime import Runtime


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one commit per request (rolled back on error)."""
    async with request.app.state.sessions() as session, session.begin():
        yield session


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(_session)]
RuntimeDep = Annotated["Runtime", Depends(_runtime)]
SettingsDep = Annotated[Settings, Depends(_settings)]


async def require_app_token(
    request: Request,
    dapr_api_token: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """When ``APP_API_TOKEN`` is configured only callers presenting it (the Dapr sidecar)
    get in."""
    settings: Settings = request.app.state.settings
    expected = settings.app_api_token
    if expected and not hmac.compare_digest(dapr_api_token or "", expected):
        raise Unauthorized("missing or wrong dapr-api-token")
