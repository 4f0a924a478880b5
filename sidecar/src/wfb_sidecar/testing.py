"""Test helpers: the sidecar as a subprocess on free ports, and tiny recording apps.

``SidecarProcess`` writes a run file and a components directory into a temporary
directory, starts ``python -m wfb_sidecar`` and waits until every app's sidecar answers
``/v1.0/healthz``; ``kill()`` is a ``kill -9``. ``TinyApp`` is a real HTTP server
(Starlette on uvicorn, in a thread) that records every request and answers what the
test scripts. ``dapr_settings()`` points the Dapr SDK's ``DaprClient`` at one app's
sidecar.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one this process was already given: the kernel may
    hand back a port just released, and two services of one run file must not share."""
    while True:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def plain_request(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """An HTTP request with the standard library: headers go out exactly as given (a test
    process may have httpx instrumented by OpenTelemetry, which rewrites trace headers)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


Handler = Callable[[Recorded], Response]
RawHandler = Callable[[Request], Awaitable[Response]]


class TinyApp:
    """A recording HTTP app; ``handlers[path]`` decides the answer (default: echo)."""

    def __init__(self, port: int | None = None, subscriptions: list[dict[str, Any]] | None = None):
        self.port = port or free_port()
        self.subscriptions = subscriptions
        self.requests: list[Recorded] = []
        self.handlers: dict[str, Handler] = {}
        self.raw_handlers: dict[str, RawHandler] = {}
        self.subscribe_calls = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def received(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: Request) -> Response:
        raw = self.raw_handlers.get(request.url.path)
        if raw is not None:
            return await raw(request)
        recorded = Recorded(
            request.method,
            request.url.path,
            request.url.query,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        if recorded.path == "/dapr/subscribe" and request.method == "GET":
            self.subscribe_calls += 1
            if self.subscriptions is None:
                return Response(status_code=404)
            return JSONResponse(self.subscriptions)
        self.requests.append(recorded)
        handler = self.handlers.get(recorded.path)
        if handler is not None:
            return handler(recorded)
        return JSONResponse(
            {
                "method": recorded.method,
                "path": recorded.path,
                "query": recorded.query,
                "headers": recorded.headers,
                "body": recorded.body.decode("utf-8", "replace"),
            }
        )

    def start(self) -> TinyApp:
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self._server is not None and self._server.started, 10)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None
            self._thread = None


@dataclass
class AppPorts:
    app_id: str
    app_port: int | None
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    extra: dict[str, Any] = field(default_factory=dict)


class SidecarProcess:
    """``python -m wfb_sidecar`` for a generated run file; logs go to ``<dir>/sidecar.log``."""

    def __init__(
        self,
        directory: Path,
        apps: list[AppPorts],
        resources: dict[str, Any | str],
        *,
        env: dict[str, str] | None = None,
        common: dict[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self.apps = {a.app_id: a for a in apps}
        self.env = env or {}
        self.data_dir = directory / "data"
        self.log_path = directory / "sidecar.log"
        self.proc: subprocess.Popen[bytes] | None = None
        components = directory / "components"
        components.mkdir(parents=True, exist_ok=True)
        for name, content in resources.items():
            text = content if isinstance(content, str) else yaml.safe_dump_all(content)
            (components / name).write_text(text, encoding="utf-8")
        run_file = {
            "version": 1,
            "common": {"resourcesPath": "./components", **(common or {})},
            "apps": [
                {
                    "appID": a.app_id,
                    "appDirPath": ".",
                    **({"appPort": a.app_port} if a.app_port else {}),
                    "daprHTTPPort": a.http_port,
                    "daprGRPCPort": a.grpc_port,
                    **a.extra,
                }
                for a in apps
            ],
        }
        self.run_file = directory / "dapr.yaml"
        self.run_file.write_text(yaml.safe_dump(run_file), encoding="utf-8")

    def url(self, app_id: str) -> str:
        return f"http://127.0.0.1:{self.apps[app_id].http_port}"

    def start(self, wait: bool = True, timeout: float = 60) -> SidecarProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "wfb_sidecar",
                "--run-file",
                str(self.run_file),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "DEBUG",
            ],
            cwd=self.directory,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                return all(
                    httpx.get(f"{self.url(a)}/v1.0/healthz", timeout=1).status_code == 204
                    for a in self.apps
                )
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, 0.05)

    def logs(self) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )

    def kill(self) -> None:
        """``kill -9``: no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def dapr_settings(sidecar: SidecarProcess, app_id: str, **overrides: Any) -> Iterator[str]:
    """Point the Dapr SDK (``dapr.conf.settings``) at ``app_id``'s sidecar; yield the
    gRPC address for ``DaprClient(address=...)``."""
    from dapr.conf import settings

    ports = sidecar.apps[app_id]
    values = {
        "DAPR_RUNTIME_HOST": "127.0.0.1",
        "DAPR_HTTP_PORT": ports.http_port,
        "DAPR_GRPC_PORT": ports.grpc_port,
        "DAPR_HTTP_ENDPOINT": None,
        "DAPR_GRPC_ENDPOINT": None,
        "DAPR_API_TOKEN": None,
        "DAPR_HEALTH_TIMEOUT": 10,
        **overrides,
    }
    saved = {name: getattr(settings, name, None) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield f"127.0.0.1:{ports.grpc_port}"
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)
