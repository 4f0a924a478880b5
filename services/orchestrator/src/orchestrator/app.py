"""``create_app()``: the Workflow Orchestrator FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from dapr.ext.workflow.aio import DaprWorkflowClient
from fastapi import FastAPI

from orchestrator import __version__
from orchestrator.auth import Authenticator, admin_api_project_access, admin_api_verifier
from orchestrator.interpreter.activities import ActivityEnv
from orchestrator.interpreter.runtime import WorkerRuntime
from orchestrator.records.store import Notifier, RecordStore
from orchestrator.runs.endpoints import router as runs_router
from orchestrator.runs.service import RunService
from orchestrator.secrets_box import SecretsBox
from orchestrator.settings import Settings
from service_kit import auth as service_auth
from service_kit import build_app
from service_kit.db import create_engine, database_check, session_factory, upgrade_database_async

MIGRATIONS = Path(__file__).parent / "migrations"


def admin_api_authenticator(settings: Settings, admin_http: httpx.AsyncClient) -> Authenticator:
    """Callers are verified against admin-api, reached through Dapr invocation."""
    kit = service_auth.Authenticator(
        verifier=service_auth.JwtVerifier(
            service_auth.JwksSource.http("/.well-known/jwks.json", admin_http),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithm=settings.jwt_algorithm,
        ),
        introspection=service_auth.IntrospectionClient("/api/v1/auth/introspect", admin_http),
    )
    return Authenticator(
        settings,
        verify_token=admin_api_verifier(kit),
        project_access=admin_api_project_access(
            service_auth.AuthorizationClient("/api/v1/authz/check", admin_http)
        ),
    )


def create_app(
    settings: Settings | None = None, authenticator: Authenticator | None = None
) -> FastAPI:
    settings = settings or Settings()
    secrets_box = SecretsBox.from_setting(
        settings.secrets_key, settings.data_dir, embedded=settings.is_embedded
    )
    if authenticator is None:
        Authenticator(settings)  # refuse an unsafe auth mode at once, not at first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        admin_http = httpx.AsyncClient(
            base_url=f"{settings.dapr_http_endpoint}/v1.0/invoke/{settings.admin_api_app_id}/method",
            headers={"dapr-api-token": settings.dapr_api_token} if settings.dapr_api_token else {},
            timeout=10,
        )
        auth = authenticator or admin_api_authenticator(settings, admin_http)
        url = settings.resolved_database_url()
        if settings.migrate_on_startup:
            await upgrade_database_async(MIGRATIONS, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        notifier = Notifier()
        activity_env = ActivityEnv(settings, secrets_box, notifier)
        ActivityEnv.install(activity_env)
        client = DaprWorkflowClient(host=settings.dapr_host, port=str(settings.dapr_grpc_port))
        app.state.engine = engine
        app.state.notifier = notifier
        app.state.authenticator = auth
        app.state.runs = RunService(
            settings=settings,
            sessions=sessions,
            store=RecordStore(engine, notifier),
            client=client,
            secrets_box=secrets_box,
            authenticator=auth,
            admin_http=admin_http,
        )
        app.state.readiness.add("database", database_check(engine))
        worker: WorkerRuntime | None = None
        if settings.start_workflow_runtime:
            worker = WorkerRuntime(settings)
            worker.start_in_background()
            app.state.worker = worker

            async def worker_ready() -> None:
                assert worker is not None
                if not worker.ready():
                    raise RuntimeError("the workflow worker is not connected to the sidecar")

            app.state.readiness.add("workflow-worker", worker_ready)
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await activity_env.close()
            await admin_http.aclose()
            await engine.dispose()

    return build_app(
        service="orchestrator",
        title="Workflow Orchestrator",
        version=__version__,
        description="Durable dynamic interpreter of workflow definitions on Dapr Workflows, and the v2 REST API.",
        settings=settings,
        lifespan=lifespan,
        routers=[runs_router],
    )
