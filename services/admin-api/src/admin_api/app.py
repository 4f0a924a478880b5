"""``create_app()``: the Admin API FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from admin_api import __version__
from admin_api.apikeys.endpoints import router as apikeys_router
from admin_api.audit.endpoints import router as audit_router
from admin_api.auth import passwords
from admin_api.auth.endpoints import router as auth_router
from admin_api.auth.keys import KeyRing, load_configured_key
from admin_api.auth.tokens import TokenIssuer
from admin_api.dashboard.endpoints import router as dashboard_router
from admin_api.orchestrator_client import OrchestratorClient
from admin_api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from admin_api.settings import Settings
from admin_api.tenancy.endpoints import router as tenancy_router
from admin_api.triggers import events
from admin_api.triggers.endpoints import jobs_router
from admin_api.triggers.endpoints import router as triggers_router
from admin_api.triggers.events import Ack, Incoming, Publisher
from admin_api.triggers.jobs import JobsClient
from admin_api.triggers.reconciler import Reconciler
from admin_api.triggers.secrets import load_secret_box
from admin_api.triggers.service import Triggers
from admin_api.triggers.subscriptions import DaprOpener, EventSubscriptions, Opener
from admin_api.workflows.endpoints import router as workflows_router
from service_kit import build_app
from service_kit.auth import JwksSource, JwtVerifier
from service_kit.db import (
    create_engine,
    database_check,
    session_factory,
    transaction,
    upgrade_database_async,
)

MIGRATIONS = Path(__file__).parent / "migrations"
ROUTERS = (
    auth_router,
    tenancy_router,
    workflows_router,
    apikeys_router,
    audit_router,
    dashboard_router,
    triggers_router,
    jobs_router,
)
_log = logging.getLogger("admin_api")


def _limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url, settings.redis_key_prefix)
    if settings.mode == "kubernetes":
        raise RuntimeError(
            "ADMIN_API_REDIS_URL is required in kubernetes mode (shared rate limits)"
        )
    return MemoryRateLimiter()


def _reconciler(
    rt: Triggers, http: httpx.AsyncClient, settings: Settings, opener: Opener | None
) -> Reconciler:
    publisher = Publisher(http, settings.dapr_http_endpoint, settings.dapr_api_token)

    async def on_event(incoming: Incoming) -> Ack:
        return (await events.handle(rt, publisher, incoming)).ack

    opener = opener or DaprOpener(
        f"{settings.dapr_host}:{settings.dapr_grpc_port}",
        f"{settings.dapr_http_endpoint}/v1.0/healthz/outbound",
        http,
    )
    subscriptions = EventSubscriptions(on_event, opener, settings.event_subscription_max_backoff_s)
    return Reconciler(rt, subscriptions, settings.trigger_reconcile_interval_s)


def create_app(settings: Settings | None = None, *, event_opener: Opener | None = None) -> FastAPI:
    """The app; ``event_opener`` replaces Dapr streaming subscriptions (tests)."""
    settings = settings or Settings()
    signing_key = load_configured_key(settings)  # refuse to start without a usable key
    passwords.configure(settings.password_hash_time_cost, settings.password_hash_memory_kib)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        if settings.migrate_on_startup:
            await upgrade_database_async(MIGRATIONS, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        keyring = KeyRing(signing_key, timedelta(seconds=settings.retired_key_grace_s))
        async with transaction(sessions) as session:
            await keyring.register(session)

        async def load_jwks() -> Mapping[str, Any]:
            async with sessions() as session:
                return await keyring.jwks(session)

        http = httpx.AsyncClient(timeout=settings.orchestrator_timeout_s)
        app.state.engine = engine
        app.state.sessions = sessions
        app.state.keyring = keyring
        app.state.issuer = TokenIssuer(keyring, settings)
        app.state.verifier = JwtVerifier(
            JwksSource(load_jwks),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.jwt_algorithm,
            leeway_s=settings.jwt_leeway_s,
            cache_ttl_s=30,
            min_refresh_interval_s=1,
        )
        app.state.limiter = _limiter(settings)
        app.state.orchestrator = OrchestratorClient(
            http, settings.dapr_http_endpoint, settings.orchestrator_app_id, settings.dapr_api_token
        )
        app.state.triggers = Triggers(
            sessions=sessions,
            orchestrator=app.state.orchestrator,
            jobs=JobsClient(http, settings.dapr_http_endpoint, settings.dapr_api_token),
            box=load_secret_box(settings),
            settings=settings,
        )
        app.state.reconciler = None
        if settings.triggers_enabled:
            app.state.reconciler = _reconciler(app.state.triggers, http, settings, event_opener)
            app.state.reconciler.start()
        app.state.readiness.add("database", database_check(engine))
        _log.info("signing access tokens with key %s (%s)", signing_key.kid, signing_key.algorithm)
        try:
            yield
        finally:
            if app.state.reconciler is not None:
                await app.state.reconciler.stop()
            await app.state.limiter.close()
            await http.aclose()
            await engine.dispose()

    return build_app(
        service="admin-api",
        title="Admin API",
        version=__version__,
        description=(
            "Users, auth, the tenant hierarchy, roles, workflow versions, deploy lifecycle, audit. "
            "Lists paginate with `limit` and `cursor`, answering `{items, nextCursor}`."
        ),
        settings=settings,
        lifespan=lifespan,
        routers=ROUTERS,
    )
