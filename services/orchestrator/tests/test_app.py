from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from orchestrator.app import create_app
from orchestrator.settings import Settings

pytestmark = pytest.mark.unit


async def test_health_readiness_metrics_openapi(tmp_path: Path) -> None:
    app = create_app(
        Settings(data_dir=tmp_path, require_sidecar=False, start_workflow_runtime=False)
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"]
        missing = await client.get("/definitely-not-here")
        assert missing.headers["content-type"] == "application/problem+json"
