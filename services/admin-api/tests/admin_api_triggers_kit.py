"""Fakes and fixtures for the trigger tests: a fake Dapr sidecar over loopback HTTP (the
orchestrator behind service invocation with Idempotency-Key, ``?wait=`` and status; the
Jobs API; pub/sub publish) and a fake streaming-subscription broker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from admin_api_testkit import INVOKE, Api, Service, database, make_settings, serve
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from admin_api.app import create_app
from admin_api.triggers.events import Ack, Incoming, from_parts

BFF = {"dapr-caller-app-id": "builder-bff"}


@dataclass
class FakeSidecar:
    """admin-api's view of Dapr: invocation of the orchestrator, jobs, publish."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_jobs: list[str] = field(default_factory=list)
    published: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    finish_at_start: dict[str, Any] = field(default_factory=dict)
    """workflow id -> result: runs of these workflows end as soon as they start."""
    fail_start_with: int | None = None
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def runs_of(self, workflow_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.started if r["labels"].get("workflowId") == workflow_id]

    def complete(self, instance_id: str) -> None:
        with self.lock:
            self.runs[instance_id]["runtimeStatus"] = "COMPLETED"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(INVOKE)
        async def start(request: Request) -> JSONResponse:
            if self.fail_start_with:
                return JSONResponse({"detail": "no"}, status_code=self.fail_start_with)
            body = await request.json()
            key = request.headers.get("idempotency-key")
            wid = body["labels"].get("workflowId", "")
            with self.lock:
                if key and key in self.idempotency:
                    instance = self.idempotency[key]
                    return JSONResponse(
                        {"instanceId": instance, "workflowId": wid, "status": "started"},
                        status_code=201,
                        headers={"Idempotent-Replayed": "true"},
                    )
                instance = uuid.uuid4().hex
                if key:
                    self.idempotency[key] = instance
                finished = wid in self.finish_at_start
                run = {
                    "instanceId": instance,
                    "workflowId": wid,
                    "runtimeStatus": "COMPLETED" if finished else "RUNNING",
                    "result": self.finish_at_start.get(wid),
                    "outputs": {"hello": self.finish_at_start.get(wid)} if finished else {},
                    "labels": body["labels"],
                }
                self.runs[instance] = run
                self.started.append({**body, "instanceId": instance})
            if request.query_params.get("wait") and finished:
                return JSONResponse(run, status_code=200)
            status = 202 if request.query_params.get("wait") else 201
            return JSONResponse(
                {"instanceId": instance, "workflowId": wid, "status": "started"},
                status_code=status,
            )

        @app.get(INVOKE + "/{instance}/status")
        async def status(instance: str) -> JSONResponse:
            with self.lock:
                run = self.runs.get(instance)
            if run is None:
                return JSONResponse({"detail": "not found"}, status_code=404)
            return JSONResponse(run)

        @app.post("/v1.0-alpha1/jobs/{name}")
        async def schedule(name: str, request: Request) -> Response:
            with self.lock:
                self.jobs[name] = await request.json()
            return Response(status_code=204)

        @app.get("/v1.0-alpha1/jobs/{name}")
        async def get_job(name: str) -> JSONResponse:
            with self.lock:
                job = self.jobs.get(name)
            if job is None:
                return JSONResponse(
                    {"errorCode": "ERR_JOBS_NOT_FOUND", "message": "job not found"},
                    status_code=404,
                )
            return JSONResponse({"name": name, **job})

        @app.delete("/v1.0-alpha1/jobs/{name}")
        async def delete_job(name: str) -> Response:
            with self.lock:
                self.jobs.pop(name, None)
                self.deleted_jobs.append(name)
            return Response(status_code=204)

        @app.post("/v1.0/publish/{pubsub}/{topic}")
        async def publish(pubsub: str, topic: str, request: Request) -> Response:
            with self.lock:
                self.published.append((pubsub, topic, await request.json()))
            return Response(status_code=204)

        return app


class FakeStream:
    def __init__(self, broker: FakeBroker, pubsub: str, topic: str) -> None:
        self.broker = broker
        self.key = (pubsub, topic)

    async def next(self) -> tuple[Any, Incoming]:
        inbox = self.broker.inbox(*self.key)
        while True:
            try:
                return inbox.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.01)

    async def respond(self, message: Any, ack: Ack) -> None:
        with self.broker.lock:
            self.broker.acks.append((message, ack))
            if ack == "retry":
                self.broker.inbox(*self.key).put((message, self.broker.pending[message]))

    async def close(self) -> None:
        with self.broker.lock:
            self.broker.open.discard(self.key)


@dataclass
class FakeBroker:
    """Stands in for the SDK's streaming subscriptions (thread-safe: the app runs on the
    server's own event loop)."""

    open: set[tuple[str, str]] = field(default_factory=set)
    acks: list[tuple[str, Ack]] = field(default_factory=list)
    queues: dict[tuple[str, str], queue.Queue[tuple[Any, Incoming]]] = field(default_factory=dict)
    pending: dict[str, Incoming] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inbox(self, pubsub: str, topic: str) -> queue.Queue[tuple[Any, Incoming]]:
        return self.queues.setdefault((pubsub, topic), queue.Queue())

    async def opener(self, pubsub: str, topic: str) -> FakeStream:
        with self.lock:
            self.open.add((pubsub, topic))
        return FakeStream(self, pubsub, topic)

    def publish(
        self,
        topic: str,
        data: bytes,
        *,
        event_id: str | None = None,
        content_type: str = "application/json",
        pubsub: str = "pubsub",
        attributes: dict[str, Any] | None = None,
    ) -> str:
        message = f"m-{uuid.uuid4().hex}"
        attrs = {
            "id": event_id or uuid.uuid4().hex,
            "source": "tests",
            "type": "test.event",
            "specversion": "1.0",
            **(attributes or {}),
        }
        incoming = from_parts(pubsub, topic, attrs, data, content_type)
        with self.lock:
            self.pending[message] = incoming
        self.inbox(pubsub, topic).put((message, incoming))
        return message

    def ack_of(self, message: str) -> Ack | None:
        with self.lock:
            found = [a for m, a in self.acks if m == message]
        return found[-1] if found else None


@dataclass
class TriggerStack:
    service: Service
    sidecar: FakeSidecar
    broker: FakeBroker


@pytest.fixture(scope="session")
def sidecar() -> Iterator[FakeSidecar]:
    fake = FakeSidecar()
    with serve(fake.app()) as url:
        fake.url = url
        yield fake


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def trigger_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sidecar: FakeSidecar,
) -> Iterator[TriggerStack]:
    tmp = tmp_path_factory.mktemp(f"triggers-{request.param}")
    broker = FakeBroker()
    with database(request.param, tmp) as url:
        settings = make_settings(
            url,
            tmp,
            sidecar.url,
            trigger_missed_grace_s=2.0,
            trigger_reconcile_interval_s=0.3,
            trigger_pending_retry_s=1.0,
            trigger_queue_limit=2,
        )
        with serve(create_app(settings, event_opener=broker.opener)) as base:
            yield TriggerStack(Service(base, request.param, settings), sidecar, broker)


@pytest.fixture
async def tapi(trigger_stack: TriggerStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=trigger_stack.service.url, timeout=30) as http:
        yield Api(http, trigger_stack.service)


def trigger_definition(config: dict[str, Any], label: str = "Work") -> dict[str, Any]:
    return {
        "id": "t",
        "name": "Triggered",
        "nodes": [
            {"id": "when", "type": "trigger", "label": "When", "config": config},
            {
                "id": "work",
                "type": "action",
                "label": label,
                "config": {"actionId": "system/log", "message": "hi"},
            },
        ],
        "edges": [{"id": "e", "source": "when", "target": "work"}],
    }


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-wfb-timestamp": ts, "x-wfb-signature": f"sha256={digest}"}


async def eventually(check: Any, within: float = 10.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Deployed:
    owner: Any
    project: str
    workflow: str

    async def deploy(self, config: dict[str, Any] | None = None, label: str = "Work") -> int:
        if config is not None:
            saved = await self.owner.put(
                f"/api/v1/workflows/{self.workflow}/definition",
                json={"definition": trigger_definition(config, label)},
            )
            assert saved.status_code in (200, 201), saved.text
        r = await self.owner.post(f"/api/v1/workflows/{self.workflow}/deploy", json={})
        assert r.status_code == 200, r.text
        return int(r.json()["activeVersion"])

    async def stop(self) -> None:
        r = await self.owner.post(f"/api/v1/workflows/{self.workflow}/stop")
        assert r.status_code == 200, r.text

    async def triggers(self) -> list[dict[str, Any]]:
        r = await self.owner.get(f"/api/v1/workflows/{self.workflow}/triggers")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def firings(self) -> list[dict[str, Any]]:
        r = await self.owner.get(f"/api/v1/workflows/{self.workflow}/triggers/firings")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def secret(self) -> str:
        r = await self.owner.post(f"/api/v1/workflows/{self.workflow}/webhook/secret")
        assert r.status_code == 200, r.text
        return str(r.json()["secret"])


async def deployed(api: Api, config: dict[str, Any], label: str = "Work") -> Deployed:
    owner = await api.user("trig")
    t = await api.tenancy(owner)
    wf = await api.workflow(owner, t.project, trigger_definition(config, label))
    found = Deployed(owner, t.project, wf["id"])
    await found.deploy()
    return found
