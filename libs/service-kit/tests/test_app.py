from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from service_kit import ServiceSettings, build_app
from service_kit.logging import JsonFormatter, log_context
from service_kit.problems import Conflict, TooManyRequests, Unprocessable

pytestmark = pytest.mark.unit


class Body(BaseModel):
    name: str
    count: int


def make_app(tmp_path: Path, ready: bool = True) -> FastAPI:
    router = APIRouter()

    @router.post("/things/{thing_id}")
    async def create(thing_id: int, body: Body) -> dict[str, str]:
        if body.name == "taken":
            raise Conflict(f"thing {body.name!r} exists", thing=body.name)
        if body.name == "busy":
            raise TooManyRequests("slow down", retry_after=7)
        if body.name == "bad":
            raise Unprocessable("definition is invalid", errors=[{"nodeId": "a", "message": "x"}])
        if body.name == "boom":
            raise RuntimeError("secret internals")
        return {"ok": "yes"}

    settings = ServiceSettings(data_dir=tmp_path, require_sidecar=False)
    app = build_app(service="test", title="T", version="0", settings=settings, routers=[router])

    async def check() -> None:
        if not ready:
            raise RuntimeError("database down")

    app.state.readiness.add("database", check)
    return app


async def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


class TestProblems:
    async def test_typed_errors_render_rfc9457(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post("/things/1", json={"name": "taken", "count": 1})
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "type": "about:blank",
            "title": "Conflict",
            "status": 409,
            "detail": "thing 'taken' exists",
            "instance": "/things/1",
            "thing": "taken",
        }

    async def test_429_carries_retry_after(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post("/things/1", json={"name": "busy", "count": 1})
        assert r.status_code == 429 and r.headers["retry-after"] == "7"
        assert r.json()["retry_after"] == 7

    async def test_422_lists_errors(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post("/things/1", json={"name": "bad", "count": 1})
        assert r.json()["errors"] == [{"nodeId": "a", "message": "x"}]

    async def test_request_validation_errors_are_problems(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post("/things/abc", json={"name": 3})
        body = r.json()
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        locs = {tuple(e["loc"]) for e in body["errors"]}
        assert ("path", "thing_id") in locs and ("body", "count") in locs
        assert "request is invalid" in body["detail"]

    async def test_malformed_json_is_a_4xx(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post(
                "/things/1", content=b"{nope", headers={"content-type": "application/json"}
            )
        assert r.status_code == 422

    async def test_unexpected_errors_hide_internals(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            r = await c.post("/things/1", json={"name": "boom", "count": 1})
        assert r.status_code == 500
        assert "secret" not in r.text
        assert r.json()["request_id"] == r.headers["x-request-id"]

    async def test_unknown_route_and_method(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            missing = await c.get("/nowhere")
            wrong = await c.get("/things/1")
        assert missing.status_code == 404 and missing.json()["title"] == "Not Found"
        assert (
            wrong.status_code == 405 and wrong.headers["content-type"] == "application/problem+json"
        )


class TestHealthAndMetrics:
    async def test_readyz_reports_each_check(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path, ready=False)) as c:
            live = await c.get("/healthz")
            ready = await c.get("/readyz")
        assert live.status_code == 200
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == {
            "ok": False,
            "duration_ms": ready.json()["checks"]["database"]["duration_ms"],
            "error": "database down",
        }

    async def test_metrics_count_requests_by_route_template(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            await c.post("/things/1", json={"name": "x", "count": 1})
            await c.post("/things/2", json={"name": "x", "count": 1})
            text = (await c.get("/metrics")).text
        assert (
            'http_server_requests_total{method="POST",route="/things/{thing_id}",service="test",status="200"} 2.0'
            in text
        )

    async def test_request_id_is_echoed_or_created(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            given = await c.get("/healthz", headers={"x-request-id": "abc-123"})
            fresh = await c.get("/healthz")
            hostile = await c.get("/healthz", headers={"x-request-id": "a\nb<script>"})
        assert given.headers["x-request-id"] == "abc-123"
        assert len(fresh.headers["x-request-id"]) == 32
        assert hostile.headers["x-request-id"] != "a\nb<script>"

    async def test_openapi_is_published(self, tmp_path: Path) -> None:
        async with await client(make_app(tmp_path)) as c:
            spec = (await c.get("/openapi.json")).json()
        assert "/things/{thing_id}" in spec["paths"] and "/readyz" in spec["paths"]


class TestLogging:
    def test_json_lines_carry_context_and_redact_secrets(self) -> None:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        record.api_key = "sk-123"
        record.node_count = 3
        with log_context(execution_id="run-1", node_id="n1"):
            line = json.loads(JsonFormatter("svc").format(record))
        assert line["msg"] == "hello world" and line["service"] == "svc"
        assert line["execution_id"] == "run-1" and line["node_id"] == "n1"
        assert line["api_key"] == "[redacted]" and line["node_count"] == 3


class TestSettings:
    def test_placeholders_refused_outside_embedded(self) -> None:
        class S(ServiceSettings):
            jwt_secret: str = "change-me"

            def secret_settings(self) -> dict[str, str | None]:
                return {"jwt_secret": self.jwt_secret}

        assert S().jwt_secret == "change-me"  # embedded: fine
        with pytest.raises(ValueError, match="placeholder"):
            S(mode="kubernetes")
        assert S(mode="kubernetes", jwt_secret="a-real-long-secret").mode == "kubernetes"
