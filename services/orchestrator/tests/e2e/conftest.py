"""The orchestrator end to end: the local sidecar and the orchestrator as real processes,
a scriptable stand-in for function-runner, HTTP from the outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from fastapi import FastAPI, Request

from service_kit.testing import free_port

DEV_TOKEN = "e2e-token-0123456789"
AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


class FakeFunctionRunner:
    """function-runner's ``/execute`` with test functions, plus a pub/sub subscriber."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.deliveries: list[dict[str, Any]] = []
        self.gates: dict[str, threading.Event] = defaultdict(threading.Event)
        self.lock = threading.Lock()
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/dapr/subscribe")
        async def subscribe() -> list[dict[str, str]]:
            return [{"pubsubname": "pubsub", "topic": "orders", "route": "/events/orders"}]

        @app.post("/events/orders")
        async def orders(request: Request) -> dict[str, str]:
            self.deliveries.append(await request.json())
            return {"status": "SUCCESS"}

        @app.post("/execute")
        async def execute(request: Request) -> Any:
            body = await request.json()
            return await self.execute(body)

        self.app = app
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def execute(self, body: dict[str, Any]) -> dict[str, Any]:
        import asyncio

        slug = body["function_slug"]
        node = f"{body['execution_id']}/{body['node_id']}"
        inp = body["input"]
        with self.lock:
            self.calls.append(body)
            self.attempts[node] += 1
            attempt = self.attempts[node]
        started = time.time()
        if slug == "test/sleep":
            await asyncio.sleep(float(inp.get("seconds", 0.5)))
        elif slug == "test/block":
            gate = self.gates[str(inp.get("gate", node))]
            await asyncio.to_thread(gate.wait)
        elif slug == "test/fail":
            return {
                "success": False,
                "data": None,
                "error": str(inp.get("message", "failed")),
                "retryable": False,
                "duration_ms": 1,
            }
        elif slug == "test/flaky" and attempt <= int(inp.get("failures", 1)):
            return {
                "success": False,
                "data": None,
                "error": f"attempt {attempt} failed",
                "retryable": True,
                "duration_ms": 1,
            }
        data = {"input": inp, "attempt": attempt, "startedAt": started, "endedAt": time.time()}
        return {
            "success": True,
            "data": data,
            "error": None,
            "duration_ms": round((time.time() - started) * 1000, 2),
        }

    def start(self) -> None:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    def release(self, gate: str) -> None:
        self.gates[gate].set()


@dataclass
class Platform:
    root: Path
    fr: FakeFunctionRunner
    orch_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    fr_http_port: int = field(default_factory=free_port)
    fr_grpc_port: int = field(default_factory=free_port)
    sidecar: subprocess.Popen[bytes] | None = None
    orchestrator: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.orch_port}"

    def write_config(self) -> None:
        components = self.root / "components"
        components.mkdir(parents=True, exist_ok=True)
        resources = [
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "statestore"},
                "spec": {
                    "type": "state.sqlite",
                    "version": "v1",
                    "metadata": [
                        {"name": "connectionString", "value": str(self.root / "state.db")},
                        {"name": "actorStateStore", "value": "true"},
                    ],
                },
            },
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "pubsub"},
                "spec": {"type": "pubsub.in-memory", "version": "v1", "metadata": []},
            },
        ]
        (components / "components.yaml").write_text(yaml.safe_dump_all(resources))
        run_file = {
            "version": 1,
            "common": {"resourcesPath": "./components"},
            "apps": [
                {
                    "appID": "workflow-orchestrator",
                    "appDirPath": ".",
                    "appPort": self.orch_port,
                    "daprHTTPPort": self.http_port,
                    "daprGRPCPort": self.grpc_port,
                    "command": ["true"],
                },
                {
                    "appID": "function-runner",
                    "appDirPath": ".",
                    "appPort": self.fr.port,
                    "daprHTTPPort": self.fr_http_port,
                    "daprGRPCPort": self.fr_grpc_port,
                    "command": ["true"],
                },
            ],
        }
        (self.root / "dapr.yaml").write_text(yaml.safe_dump(run_file))

    def start_sidecar(self) -> None:
        log = open(self.root / "sidecar.log", "ab")  # noqa: SIM115 - the process owns it
        self.sidecar = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfb_sidecar",
                "--run-file",
                str(self.root / "dapr.yaml"),
                "--data-dir",
                str(self.root / "sidecar-data"),
                "--log-format",
                "text",
                "--log-level",
                os.environ.get("E2E_SIDECAR_LOG", "INFO"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(
            f"http://127.0.0.1:{self.http_port}/v1.0/healthz",
            self.sidecar,
            self.root / "sidecar.log",
        )

    def start_orchestrator(self, **env: str) -> None:
        self.env.update(env)
        log = open(self.root / "orchestrator.log", "ab")  # noqa: SIM115
        process_env = {
            **os.environ,
            "APP_PORT": str(self.orch_port),
            "DAPR_HTTP_PORT": str(self.http_port),
            "DAPR_GRPC_PORT": str(self.grpc_port),
            "WFB_DATA_DIR": str(self.root / "orchestrator-data"),
            "WFB_LOG_FORMAT": "text",
            "ORCHESTRATOR_AUTH_MODE": "dev",
            "ORCHESTRATOR_DEV_TOKEN": DEV_TOKEN,
            **self.env,
        }
        self.orchestrator = subprocess.Popen(
            [sys.executable, "-m", "orchestrator"],
            env=process_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"{self.url}/readyz", self.orchestrator, self.root / "orchestrator.log")

    def kill(self, process: subprocess.Popen[bytes] | None) -> None:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in (self.orchestrator, self.sidecar):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill(process)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=30)

    def start_run(self, definition: dict[str, Any], trigger: Any = None, **extra: Any) -> str:
        with self.client() as client:
            response = client.post(
                "/api/v2/workflows",
                json={"definition": definition, "triggerData": trigger, **extra},
            )
        assert response.status_code == 201, response.text
        instance_id: str = response.json()["instanceId"]
        return instance_id

    def status(self, instance_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/api/v2/workflows/{instance_id}/status")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def wait(
        self, instance_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(instance_id)
            if until(status):
                return status
            time.sleep(0.2)
        raise AssertionError(
            f"run {instance_id} did not reach the expected state in {timeout}s: {json.dumps(status)[:2000]}"
        )

    def finished(self, instance_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait(
            instance_id,
            lambda s: s["runtimeStatus"] in ("COMPLETED", "FAILED", "TERMINATED"),
            timeout,
        )

    def events(self, instance_id: str, last_event_id: int | None = None) -> list[dict[str, Any]]:
        """The run's SSE stream read to its end (the run's final event)."""
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        events: list[dict[str, Any]] = []
        with (
            self.client() as client,
            client.stream(
                "GET", f"/api/v2/workflows/{instance_id}/stream", headers=headers, timeout=90
            ) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        return events

    def timeline(self, instance_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/api/v2/workflows/{instance_id}/timeline")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log.read_text()[-4000:]}")


def launch(root: Path) -> Platform:
    fr = FakeFunctionRunner()
    fr.start()
    platform = Platform(root=root, fr=fr)
    platform.write_config()
    platform.start_sidecar()
    platform.start_orchestrator()
    return platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform shared by a module's tests (each test uses its own runs)."""
    running = launch(tmp_path_factory.mktemp("platform"))
    yield running
    running.stop()
    running.fr.stop()


@pytest.fixture
def own_platform(tmp_path: Path) -> Iterator[Platform]:
    """A platform of its own, for tests that kill its processes."""
    running = launch(tmp_path)
    yield running
    running.stop()
    running.fr.stop()


class Defs:
    """Definition builders (a fixture, since test modules cannot import each other)."""

    @staticmethod
    def node(node_id: str, node_type: str, label: str = "", **config: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": node_type,
            "label": label or node_id,
            "enabled": True,
            "position": {"x": 0, "y": 0},
            "config": config,
        }

    @staticmethod
    def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
        e: dict[str, Any] = {
            "id": f"{source}-{target}-{handle or ''}",
            "source": source,
            "target": target,
        }
        if handle:
            e["sourceHandle"] = handle
        return e

    def definition(
        self, wid: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": wid,
            "name": wid,
            "version": "1.0.0",
            "nodes": nodes,
            "edges": edges,
            "executionOrder": [],
        }

    def chain(self, wid: str, *nodes: dict[str, Any]) -> dict[str, Any]:
        import itertools

        return self.definition(
            wid, list(nodes), [self.edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
        )


@pytest.fixture
def defs() -> Defs:
    return Defs()
