"""``create_app()``: the Builder BFF FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from builder_bff import __version__
from builder_bff.settings import Settings
from service_kit import build_app


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return build_app(
        service="builder-bff",
        title="Builder BFF",
        version=__version__,
        description="Serves the visual builder and the API it calls.",
        settings=settings,
    )
