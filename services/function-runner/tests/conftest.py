"""Fixtures: the app on SQLite and on PostgreSQL, a client, loopback HTTP servers."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from function_runner.app import create_app
from function_runner.runtime import Runtime
from function_runner.settings import Settings
from service_kit.testing import temporary_postgres_database

TEST_KEYS = {"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fr.db'}"
        return
    with temporary_postgres_database("frtest") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fr.db'}"


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "require_sidecar": False,
        "use_secret_store": False,
        "credential_keys": TEST_KEYS,
        "function_cache_seconds": 0.0,
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class AppClient:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


AppFactory = Callable[..., Any]


@pytest.fixture
def app_factory(tmp_path: Path) -> Callable[..., Any]:
    """``async with app_factory(database_url, **settings) as ac`` yields an AppClient."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def factory(database_url: str, **overrides: Any) -> AsyncIterator[AppClient]:
        app = create_app(make_settings(database_url, tmp_path, **overrides))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://runner"
            ) as client,
        ):
            yield AppClient(app, client)

    return factory


@pytest.fixture
async def api(app_factory: AppFactory, database_url: str) -> AsyncIterator[AppClient]:
    async with app_factory(database_url) as ac:
        yield ac


@pytest.fixture
async def sqlite_api(app_factory: AppFactory, sqlite_url: str) -> AsyncIterator[AppClient]:
    async with app_factory(sqlite_url) as ac:
        yield ac


# --- loopback HTTP server ---------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    close: bool = False
    """Drop the connection without answering (a network error)."""
    delay: float = 0.0


Handler = Callable[[Recorded], Reply]


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 (random port); ``handler`` decides each answer."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda _: Reply(body={"ok": True}))
        self.requests: list[Recorded] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                outer.requests.append(recorded)
                reply = outer.handler(recorded)
                if reply.delay:
                    import time

                    time.sleep(reply.delay)
                if reply.close:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = (
                    reply.raw
                    if reply.raw is not None
                    else (b"" if reply.body is None else json.dumps(reply.body).encode())
                )
                self.send_response(reply.status)
                headers = {"content-type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


def execute_body(slug: str, input: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "function_slug": slug,
        "execution_id": "exec-1",
        "workflow_id": "wf-1",
        "node_id": "node-1",
        "node_name": "Node One",
        "input": input or {},
        "node_outputs": {},
        **extra,
    }


@pytest.fixture
def server_cls() -> type[LoopbackServer]:
    """``with server_cls(handler) as server:`` a loopback server per test."""
    return LoopbackServer


@pytest.fixture
def reply_cls() -> type[Reply]:
    return Reply


@pytest.fixture
def body() -> Callable[..., dict[str, Any]]:
    return execute_body
