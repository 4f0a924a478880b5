"""``build_app``: the FastAPI app every service starts from.

A service's ``create_app()`` calls this with its settings, lifespan and routers; the kit
adds JSON logs, request ids, problem responses, Prometheus ``/metrics``, tracing and
``/healthz`` + ``/readyz``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from service_kit.health import ReadinessRegistry, dapr_sidecar_check, health_router
from service_kit.logging import configure_logging
from service_kit.middleware import HttpMetrics, RequestContextMiddleware
from service_kit.problems import install_problem_handlers
from service_kit.settings import ServiceSettings
from service_kit.telemetry import instrument_app, setup_tracing, shutdown_tracing

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


def build_app(
    *,
    service: str,
    title: str,
    version: str,
    settings: ServiceSettings,
    lifespan: Lifespan | None = None,
    routers: Sequence[APIRouter] = (),
    description: str = "",
) -> FastAPI:
    """Assemble the service app. ``app.state.readiness`` takes extra readiness checks and
    ``app.state.metrics_registry`` holds the service's Prometheus metrics."""
    configure_logging(service, settings.log_level, settings.log_format)
    setup_tracing(service, settings.otlp_endpoint)
    inner = lifespan or _no_lifespan

    @asynccontextmanager
    async def combined(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            yield
        shutdown_tracing()

    app = FastAPI(title=title, version=version, description=description, lifespan=combined)
    registry = CollectorRegistry()
    readiness = ReadinessRegistry()
    if settings.require_sidecar:
        readiness.add("dapr", dapr_sidecar_check(settings.dapr_http_endpoint))
    app.state.settings = settings
    app.state.metrics_registry = registry
    app.state.readiness = readiness

    install_problem_handlers(app)
    app.include_router(health_router(readiness))

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    instrument_app(app)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(registry, service))
    return app
