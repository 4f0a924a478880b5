from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from builder_bff.app import create_app
from builder_bff.settings import Settings

from .fakes import (
    AdminState,
    OrchestratorState,
    RunnerState,
    fake_admin,
    fake_function_runner,
    fake_orchestrator,
    fake_sidecar,
)

BASE = "http://bff.test"

HTTP_FN = {
    "slug": "system/http-request",
    "name": "HTTP Request",
    "plugin_id": "system",
    "category": "system",
    "input_schema": {
        "type": "object",
        "properties": {"url": {"type": "string"}},
        "required": ["url"],
    },
    "output_schema": {"type": "object", "properties": {"status": {"type": "integer"}}},
}


def definition(wid: str = "draft") -> dict[str, Any]:
    return {
        "id": wid,
        "name": "Chain",
        "version": "1.0.0",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Start",
                "enabled": True,
                "position": {"x": 0, "y": 0},
                "config": {
                    "triggerType": "manual",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"n": {"type": "integer"}},
                        "required": ["n"],
                    },
                },
            },
            {
                "id": "a",
                "type": "action",
                "label": "Fetch",
                "enabled": True,
                "position": {"x": 1, "y": 0},
                "config": {
                    "actionId": "system/http-request",
                    "url": "https://example.com/{{trigger.n}}",
                },
            },
        ],
        "edges": [{"id": "e1", "source": "t", "target": "a"}],
        "executionOrder": ["t", "a"],
    }


@dataclass
class Platform:
    admin: AdminState
    orchestrator: OrchestratorState
    runner: RunnerState
    client: httpx.AsyncClient
    app: Any

    def csrf(self) -> dict[str, str]:
        token = self.client.cookies.get("wfb_csrf")
        assert token, "call GET /api/auth/session first"
        return {"X-CSRF-Token": token}

    async def login(
        self, email: str = "ada@example.com", role: str | None = "editor", project: str = "p1"
    ) -> str:
        await self.client.get("/api/auth/session")
        r = await self.client.post(
            "/api/auth/register",
            json={"email": email, "password": "pw-123456"},
            headers=self.csrf(),
        )
        assert r.status_code == 201, r.text
        uid = self.admin.users[email]["id"]
        if role:
            self.admin.roles[(uid, project)] = role
        return str(uid)

    def add_workflow(
        self, wid: str = "wf1", project: str = "p1", versions: int = 1, active: int | None = None
    ) -> None:
        self.admin.workflows[wid] = {
            "id": wid,
            "projectId": project,
            "name": wid.upper(),
            "status": "draft",
            "latestVersion": versions,
            "activeVersion": active,
        }
        for n in range(1, versions + 1):
            self.admin.versions[(wid, n)] = definition(f"draft-{n}")


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>Workflow Builder</title>")
    (ui / "assets" / "app-abc123.js").write_text("console.log(1)")
    admin, orch, runner = AdminState(), OrchestratorState(), RunnerState(functions=[dict(HTTP_FN)])
    sidecar = fake_sidecar(
        {
            "admin-api": fake_admin(admin),
            "workflow-orchestrator": fake_orchestrator(orch),
            "function-runner": fake_function_runner(runner),
        }
    )
    settings = Settings(
        data_dir=tmp_path, require_sidecar=False, ui_dir=ui, catalog_cache_seconds=0
    )
    app = create_app(settings, transport=httpx.ASGITransport(app=sidecar))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        yield Platform(admin, orch, runner, client, app)
