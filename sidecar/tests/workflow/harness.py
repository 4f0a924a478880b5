"""A workflow backend served on a free loopback port, for tests and scripts.

The backend runs on its own event loop in a background thread, so tests can drive it
with the synchronous Dapr SDK exactly as an application would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import grpc
from prometheus_client import CollectorRegistry

from wfb_sidecar.workflow import (
    GRPC_SERVER_OPTIONS,
    WorkflowBackend,
    add_TaskHubSidecarServiceServicer_to_server,
)

T = TypeVar("T")


class BackendThread:
    """``WorkflowBackend`` + a ``grpc.aio`` server on 127.0.0.1, in a thread."""

    def __init__(
        self, db_path: Path, app_id: str = "test-app", port: int = 0, **tuning: Any
    ) -> None:
        self.db_path = db_path
        self.app_id = app_id
        self.registry = CollectorRegistry()
        self._requested_port = port
        self._tuning = tuning
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.backend: WorkflowBackend | None = None
        self._server: Any = None
        self.port = 0

    def start(self) -> BackendThread:
        self._thread.start()
        self.port = self.run(self._start())
        return self

    async def _start(self) -> int:
        self.backend = WorkflowBackend(self.db_path, metrics_registry=self.registry, **self._tuning)
        await self.backend.start()
        self._server = grpc.aio.server(options=GRPC_SERVER_OPTIONS)
        add_TaskHubSidecarServiceServicer_to_server(
            self.backend.servicer(self.app_id), self._server
        )
        port: int = self._server.add_insecure_port(f"127.0.0.1:{self._requested_port}")
        await self._server.start()
        return port

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            assert self.backend is not None
            await self.backend.stop()
            await self._server.stop(grace=1)

        try:
            self.run(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class BackendProcess:
    """``python -m wfb_sidecar.workflow`` as a child process that tests may kill -9."""

    def __init__(self, db_path: Path, port: int, app_id: str = "test-app") -> None:
        self.db_path = db_path
        self.port = port
        self.app_id = app_id
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20) -> BackendProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfb_sidecar.workflow",
                "--db",
                str(self.db_path),
                "--port",
                str(self.port),
                "--app-id",
                self.app_id,
                "--log-level",
                "INFO",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("ready"):
                return self
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"the workflow backend did not start (exit {self.proc.poll()})")

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
