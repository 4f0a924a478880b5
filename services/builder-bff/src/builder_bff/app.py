"""``create_app()``: the Builder BFF FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from builder_bff import __version__
from builder_bff.admin.endpoints import router as admin_router
from builder_bff.catalog.endpoints import router as catalog_router
from builder_bff.catalog.service import CatalogCache
from builder_bff.dapr import Invoker
from builder_bff.hooks.endpoints import router as hooks_router
from builder_bff.runs.endpoints import router as runs_router
from builder_bff.session.cookies import CookieNames
from builder_bff.session.deps import BffState
from builder_bff.session.endpoints import router as session_router
from builder_bff.session.security import BrowserSecurityMiddleware
from builder_bff.settings import Settings
from builder_bff.static import ui_router
from service_kit import build_app
from service_kit.problems import NotFound

api_fallback = APIRouter(include_in_schema=False)


@api_fallback.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown_api(path: str) -> None:
    raise NotFound(f"/api/{path} is not an API route")


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app; ``transport`` replaces the network under the Dapr client (tests only)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        invoker = Invoker(
            settings.dapr_http_endpoint,
            api_token=settings.dapr_api_token,
            timeout=settings.upstream_timeout_seconds,
            transport=transport,
        )
        app.state.bff = BffState(settings, invoker)
        app.state.catalog = CatalogCache(settings.catalog_cache_seconds)
        try:
            yield
        finally:
            await invoker.aclose()

    app = build_app(
        service="builder-bff",
        title="Builder BFF",
        version=__version__,
        description="Serves the visual builder and the API it calls.",
        settings=settings,
        lifespan=lifespan,
        routers=[
            session_router,
            admin_router,
            catalog_router,
            runs_router,
            hooks_router,
            api_fallback,
            ui_router(settings.ui_dir),
        ],
    )
    app.add_middleware(
        BrowserSecurityMiddleware,
        names=CookieNames(settings.cookie_prefix),
        secure=settings.secure_cookies,
        allowed_origins=settings.allowed_origins,
        max_body_bytes=settings.max_body_bytes,
    )
    return app
