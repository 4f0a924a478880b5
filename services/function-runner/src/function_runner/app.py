"""``create_app()``: the Function Runner FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import delete

from function_runner import __version__
from function_runner.builtins.base import load_builtins
from function_runner.builtins.system.db import dispose_engines
from function_runner.credentials.endpoints import rotation_router
from function_runner.credentials.endpoints import router as credentials_router
from function_runner.credentials.keys import load_keyring
from function_runner.credentials.secretstore import SecretStore
from function_runner.credentials.service import CredentialResolver, CredentialStore
from function_runner.database import utcnow
from function_runner.execute.concurrency import ConcurrencyLimiter
from function_runner.execute.endpoints import router as execute_router
from function_runner.execute.metrics import ExecutionMetrics
from function_runner.execute.models import ExecutionResult
from function_runner.functions.endpoints import router as functions_router
from function_runner.functions.endpoints import status_router
from function_runner.functions.service import FunctionRegistry
from function_runner.net.client import GuardedHttpClient
from function_runner.runtime import Runtime, load_oci_runner, ssrf_policy
from function_runner.settings import Settings
from service_kit import build_app
from service_kit.db import create_engine, database_check, session_factory, upgrade_database_async

MIGRATIONS = Path(__file__).parent / "migrations"


async def build_runtime(app: FastAPI, settings: Settings) -> Runtime:
    sessions = app.state.sessions
    policy = ssrf_policy(settings)
    http = httpx.AsyncClient(
        timeout=settings.http_default_timeout_seconds,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        trust_env=False,
    )
    secret_store = (
        SecretStore(
            http, settings.dapr_http_endpoint, settings.secret_store, settings.dapr_api_token
        )
        if settings.use_secret_store
        else None
    )
    credential_store = CredentialStore(await load_keyring(settings, secret_store))
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    return Runtime(
        settings=settings,
        engine=app.state.engine,
        sessions=sessions,
        registry=FunctionRegistry(sessions, policy, settings.function_cache_seconds),
        builtins=load_builtins(),
        http=http,
        safe_http=GuardedHttpClient(
            policy,
            max_redirects=settings.http_max_redirects,
            default_timeout=settings.http_default_timeout_seconds,
            max_response_bytes=settings.http_max_response_bytes,
        ),
        limiter=ConcurrencyLimiter(redis, settings.redis_key_prefix),
        credential_store=credential_store,
        credentials=CredentialResolver(
            secret_store, credential_store, sessions, settings.secret_key_template
        ),
        metrics=ExecutionMetrics(app.state.metrics_registry),
        oci_runner=load_oci_runner(),
    )


async def _prune_idempotency_records(runtime: Runtime) -> None:
    cutoff = utcnow() - timedelta(hours=runtime.settings.idempotency_retention_hours)
    async with runtime.sessions() as session, session.begin():
        await session.execute(delete(ExecutionResult).where(ExecutionResult.created_at < cutoff))


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
        runtime = await build_runtime(app, settings)
        app.state.runtime = runtime
        try:
            await runtime.registry.seed_builtins(runtime.builtins)
            await _prune_idempotency_records(runtime)
            yield
        finally:
            await runtime.aclose()
            await dispose_engines()
            await engine.dispose()

    return build_app(
        service="function-runner",
        title="Function Runner",
        version=__version__,
        description="Executes functions from the registry: builtin handlers, OCI containers as Kubernetes Jobs, HTTP webhooks.",
        settings=settings,
        lifespan=lifespan,
        routers=[
            execute_router,
            functions_router,
            status_router,
            rotation_router,
            credentials_router,
        ],
    )
