from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from builder_bff.app import create_app
from builder_bff.settings import Settings
from service_kit.testing import free_port

from .conftest import Platform

pytestmark = pytest.mark.unit


async def test_health_readiness_metrics_openapi(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, require_sidecar=False))
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
        missing = await client.get("/api/definitely-not-here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_unreachable_sidecar_is_a_503_problem(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, require_sidecar=False, dapr_http_port=free_port())
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        client.cookies.set("wfb_session", "token", path="/api")
        r = await client.get("/api/tenants")
    assert r.status_code == 503
    assert "admin-api is unreachable" in r.json()["detail"]


class TestStaticUi:
    async def test_hashed_assets_are_immutable(self, platform: Platform) -> None:
        r = await platform.client.get("/assets/app-abc123.js")
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"

    async def test_index_is_never_cached_and_client_routes_fall_back_to_it(
        self, platform: Platform
    ) -> None:
        for path in ("/", "/workflows/wf1/edit", "/runs/abc"):
            r = await platform.client.get(path)
            assert r.status_code == 200, path
            assert "Workflow Builder" in r.text
            assert r.headers["cache-control"] == "no-cache"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]

    async def test_first_page_issues_a_csrf_cookie_readable_by_scripts(
        self, platform: Platform
    ) -> None:
        r = await platform.client.get("/")
        cookie = r.headers["set-cookie"]
        assert (
            cookie.startswith("wfb_csrf=") and "HttpOnly" not in cookie and "SameSite=Lax" in cookie
        )

    async def test_api_paths_never_fall_back_to_the_page(self, platform: Platform) -> None:
        for path in (
            "/api/nope",
            "/api/runs/x/nothing/here",
            "/assets/missing.js",
            "/missing.png",
            "/dapr/subscribe",
        ):
            r = await platform.client.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"] == "application/problem+json"

    async def test_no_path_traversal(self, platform: Platform) -> None:
        for path in ("/assets/..%2F..%2Fetc%2Fpasswd", "/assets/../index.html"):
            r = await platform.client.get(path)
            assert r.status_code in (404, 200)
            assert "root:" not in r.text

    async def test_missing_build_is_a_clear_503(self, tmp_path: Path) -> None:
        app = create_app(
            Settings(data_dir=tmp_path, require_sidecar=False, ui_dir=tmp_path / "none")
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            r = await client.get("/")
        assert r.status_code == 503
        assert "make install" in r.json()["detail"]
