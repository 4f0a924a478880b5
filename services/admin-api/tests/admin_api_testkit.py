"""Test helpers and fixtures: the Admin API served over real HTTP (uvicorn on a free port) against
SQLite and PostgreSQL, and a fake orchestrator behind a fake Dapr invoke path."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from admin_api.app import create_app
from admin_api.settings import Settings
from service_kit.testing import free_port, temporary_postgres_database

PASSWORD = "correct horse battery staple"
INVOKE = "/v1.0/invoke/workflow-orchestrator/method/api/v2/workflows"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class FakeOrchestrator:
    """What admin-api sees of workflow-orchestrator through the sidecar."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    fail_with: int | None = None
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post(INVOKE)
        async def start(request: Request) -> JSONResponse:
            self.authorizations.append(request.headers.get("authorization"))
            if self.fail_with:
                return JSONResponse({"detail": "orchestrator says no"}, status_code=self.fail_with)
            body = await request.json()
            instance = uuid.uuid4().hex
            self.started.append(body)
            self.runs.append(
                {
                    "instanceId": instance,
                    "workflowId": body["definition"]["id"],
                    "runtimeStatus": "RUNNING",
                    "phase": "running",
                    "startedAt": "2099-01-01T00:00:00Z",
                    "completedAt": None,
                    "error": None,
                    "labels": body["labels"],
                }
            )
            return JSONResponse(
                {
                    "instanceId": instance,
                    "workflowId": body["definition"]["id"],
                    "status": "started",
                },
                status_code=201,
            )

        @app.get(INVOKE)
        async def list_runs(request: Request) -> JSONResponse:
            self.authorizations.append(request.headers.get("authorization"))
            if self.fail_with:
                return JSONResponse({"detail": "orchestrator says no"}, status_code=self.fail_with)
            wanted = [label.split(":", 1) for label in request.query_params.getlist("label")]
            status = request.query_params.get("status")
            items = [
                r
                for r in self.runs
                if all(r["labels"].get(k) == v for k, v in wanted)
                and (status is None or r["runtimeStatus"] == status)
            ]
            cursor = request.query_params.get("cursor") or "0"
            if not cursor.isdigit():
                return JSONResponse({"detail": f"invalid cursor {cursor!r}"}, status_code=400)
            start = int(cursor)
            limit = int(request.query_params.get("limit") or 50)
            page = items[start : start + limit]
            more = start + limit < len(items)
            return JSONResponse({"items": page, "nextCursor": str(start + limit) if more else None})

        return app


@pytest.fixture(scope="session")
def orchestrator() -> Iterator[FakeOrchestrator]:
    fake = FakeOrchestrator()
    with serve(fake.app()) as url:
        fake.url = url
        yield fake


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "postgres":
        with temporary_postgres_database("adminapi") as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'admin-api.db'}"


def make_settings(db_url: str, data_dir: Path, orchestrator_url: str, **overrides: Any) -> Settings:
    port = int(orchestrator_url.rsplit(":", 1)[1]) if orchestrator_url else 1
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "require_sidecar": False,
        "dapr_http_port": port,
        "login_limit_per_ip": 100_000,
        "login_limit_per_account": 100,
        "register_limit_per_ip": 100_000,
        "log_level": "WARNING",
        # argon2id with a small cost keeps the suite fast; production uses the defaults
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8192,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Service:
    url: str
    backend: str
    settings: Settings


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    orchestrator: FakeOrchestrator,
) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp(f"admin-{request.param}")
    with database(request.param, tmp) as url:
        settings = make_settings(url, tmp, orchestrator.url)
        with serve(create_app(settings)) as base:
            yield Service(base, request.param, settings)


class User:
    def __init__(self, api: Api, user_id: str, email: str, tokens: dict[str, Any]) -> None:
        self.api = api
        self.id = user_id
        self.email = email
        self.tokens = tokens

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens['accessToken']}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.get(path, headers=self.headers, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.post(path, headers=self.headers, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.put(path, headers=self.headers, **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.patch(path, headers=self.headers, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.delete(path, headers=self.headers, **kw)

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.api.http.request(method, path, headers=self.headers, **kw)


@dataclass
class Tenancy:
    company: str
    organization: str
    project: str


class Api:
    def __init__(self, http: httpx.AsyncClient, service: Service) -> None:
        self.http = http
        self.service = service

    async def user(self, name: str = "user") -> User:
        email = f"{name}-{uuid.uuid4().hex[:10]}@example.com"
        r = await self.http.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        tokens = await self.login(email)
        return User(self, r.json()["user"]["id"], email, tokens)

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        r = await self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def tenancy(self, owner: User) -> Tenancy:
        c = await owner.post("/api/v1/companies", json={"name": f"Co {uuid.uuid4().hex[:6]}"})
        assert c.status_code == 201, c.text
        o = await owner.post(
            f"/api/v1/companies/{c.json()['id']}/organizations", json={"name": "Org"}
        )
        assert o.status_code == 201, o.text
        p = await owner.post(
            f"/api/v1/organizations/{o.json()['id']}/projects", json={"name": "Proj"}
        )
        assert p.status_code == 201, p.text
        return Tenancy(c.json()["id"], o.json()["id"], p.json()["id"])

    async def member(
        self, owner: User, scope: str, scope_id: str, role: str, name: str = "m"
    ) -> User:
        user = await self.user(name)
        plural = {"company": "companies", "organization": "organizations", "project": "projects"}[
            scope
        ]
        r = await owner.post(
            f"/api/v1/{plural}/{scope_id}/members", json={"email": user.email, "role": role}
        )
        assert r.status_code == 201, r.text
        return user

    async def workflow(
        self, user: User, project: str, definition: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        r = await user.post(
            f"/api/v1/projects/{project}/workflows",
            json={
                "name": f"wf {uuid.uuid4().hex[:6]}",
                "definition": definition or simple_definition(),
            },
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data


@pytest.fixture
async def api(service: Service) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        yield Api(http, service)


def simple_definition(
    label: str = "Say hello", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "hello",
        "name": "Hello",
        "version": "1.0.0",
        "nodes": [
            {
                "id": "start",
                "type": "trigger",
                "label": "Start",
                "config": {"triggerType": "manual"},
            },
            {
                "id": "hello",
                "type": "action",
                "label": label,
                "config": {"actionId": "system/log", "message": "hi", **(extra or {})},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "hello"}],
    }


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


__all__ = [
    "PASSWORD",
    "Api",
    "FakeOrchestrator",
    "Service",
    "Tenancy",
    "User",
    "asyncio",
    "simple_definition",
]


# --- the routes guarded by the permission matrix ------------------------------------------


@dataclass(frozen=True)
class GuardedRoute:
    method: str
    path: str
    action: Any
    resource: str
    param: str
    has_body: bool

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def guarded_routes() -> list[GuardedRoute]:
    """Every route whose access is decided by ``Authorize``, read from the app itself."""
    from fastapi.routing import APIRoute

    from admin_api.tenancy.access import Authorize

    found = []
    for route in all_routes():
        if not isinstance(route, APIRoute):
            continue
        stack = list(route.dependant.dependencies)
        guard = None
        while stack:
            dep = stack.pop()
            if isinstance(dep.call, Authorize):
                guard = dep.call
            stack.extend(dep.dependencies)
        if guard is None:
            continue
        for method in sorted(route.methods):
            found.append(
                GuardedRoute(
                    method,
                    route.path,
                    guard.action,
                    guard.resource,
                    guard.param,
                    route.body_field is not None,
                )
            )
    return sorted(found, key=lambda r: (r.path, r.method))


def all_routes() -> list[Any]:
    from admin_api.app import ROUTERS

    return [route for router in ROUTERS for route in router.routes]


ROLES = ("viewer", "editor", "admin", "owner")


@dataclass
class World:
    """One tenant with a user per role (company-level memberships), a deployed workflow,
    an admin API key in the project, a pending invitation and a victim member."""

    headers: dict[str, dict[str, str]]
    company: str
    organization: str
    project: str
    workflow: str
    key_id: str
    invitation: str
    victim: str
    names: list[str]


_worlds: dict[str, World] = {}


async def world_for(api: Api) -> World:
    if api.service.url in _worlds:
        return _worlds[api.service.url]
    owner = await api.user("owner")
    t = await api.tenancy(owner)
    headers = {"owner": owner.headers}
    for role in ("viewer", "editor", "admin"):
        headers[role] = (await api.member(owner, "company", t.company, role, role)).headers
    wf = await api.workflow(owner, t.project)
    assert (await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={})).status_code == 200
    key = await owner.post(
        f"/api/v1/projects/{t.project}/api-keys", json={"name": "ci", "role": "admin"}
    )
    headers["api_key"] = {"authorization": f"Bearer {key.json()['key']}"}
    inv = await owner.post(
        f"/api/v1/projects/{t.project}/invitations", json={"email": "someone@example.com"}
    )
    victim = await api.user("victim")
    for plural, scope_id in (
        ("companies", t.company),
        ("organizations", t.organization),
        ("projects", t.project),
    ):
        r = await owner.post(
            f"/api/v1/{plural}/{scope_id}/members", json={"userId": victim.id, "role": "viewer"}
        )
        assert r.status_code == 201, r.text
    names = [wf["name"]]
    world = World(
        headers,
        t.company,
        t.organization,
        t.project,
        wf["id"],
        key.json()["id"],
        inv.json()["id"],
        victim.id,
        names,
    )
    _worlds[api.service.url] = world
    return world


def fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def world_ids(world: World) -> dict[str, str]:
    return {
        "companyId": world.company,
        "organizationId": world.organization,
        "projectId": world.project,
        "workflowId": world.workflow,
        "keyId": world.key_id,
        "invitationId": world.invitation,
        "userId": world.victim,
        "number": "1",
    }


@contextmanager
def fresh_service(
    backend: str, tmp: Path, orchestrator_url: str = "", **overrides: Any
) -> Iterator[Service]:
    """A brand-new install (empty database) with its own settings."""
    with database(backend, tmp) as url:
        settings = make_settings(url, tmp, orchestrator_url, **overrides)
        with serve(create_app(settings)) as base:
            yield Service(base, backend, settings)


@pytest.fixture(params=["sqlite", "postgres"])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
