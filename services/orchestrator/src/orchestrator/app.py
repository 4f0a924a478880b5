"""``create_app()``: the Workflow Orchestrator FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.settings import Settings
from service_kit import build_app
from service_kit.db import create_engine, database_check, session_factory, upgrade_database_async

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        if settings.migrate_on_startup:
            await upgrade_database_async(MIGRATIONS, url)
        engine = create_engine(url)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.readiness.add("database", database_check(engine))
        try:
            yield
        finally:
            await engine.dispose()

    return build_app(
        service="orchestrator",
        title="Workflow Orchestrator",
        version=__version__,
        description="Durable dynamic interpreter of workflow definitions on Dapr Workflows, and the v2 REST API.",
        settings=settings,
        lifespan=lifespan,
    )
