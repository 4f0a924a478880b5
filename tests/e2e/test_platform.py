"""The services together, as `make run` starts them (`wfb dev`: the local sidecar and every
app as processes, on free ports): identity and tenancy from admin-api, runs on the
orchestrator, functions on function-runner, all talking through the sidecar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .stack import Stack
from .stack import sign_up as register

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"))
    running.start()
    yield running
    running.stop()


@dataclass
class Tenant:
    token: str
    project: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(stack: Stack, name: str) -> Tenant:
    token, project = register(stack.url("admin-api"), name)
    return Tenant(token=token, project=project)


def definition(wid: str) -> dict[str, Any]:
    nodes = [
        {
            "id": "trigger",
            "type": "trigger",
            "label": "Start",
            "config": {
                "triggerType": "manual",
                "inputSchema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
            },
        },
        {
            "id": "hash",
            "type": "action",
            "label": "Hash It",
            "config": {
                "actionId": "system/hash",
                "algorithm": "sha256",
                "data": "{{trigger.name}}",
            },
        },
        {
            "id": "gate",
            "type": "approval-gate",
            "label": "Approve",
            "config": {"timeoutHours": 1, "message": "ok?"},
        },
        {
            "id": "greet",
            "type": "action",
            "label": "Greet",
            "config": {
                "actionId": "system/template",
                "template": "hello {{trigger.name}} ({{HashIt.data.hash}})",
            },
        },
    ]
    edges = [
        {"id": "1", "source": "trigger", "target": "hash"},
        {"id": "2", "source": "hash", "target": "gate"},
        {"id": "3", "source": "gate", "target": "greet", "sourceHandle": "approved"},
    ]
    return {
        "id": wid,
        "name": wid,
        "version": "1.0.0",
        "nodes": nodes,
        "edges": edges,
        "executionOrder": [],
    }


def wait_status(
    stack: Stack, tenant: Tenant, instance: str, until: Any, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{stack.url('workflow-orchestrator')}/api/v2/workflows/{instance}/status",
            headers=tenant.auth,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        status = response.json()
        if until(status):
            return status
        time.sleep(0.3)
    raise AssertionError(f"{instance}: {status}")


def test_deploy_run_approve_audit(stack: Stack) -> None:
    owner = sign_up(stack, "ann")
    admin = stack.url("admin-api")
    created = httpx.post(
        f"{admin}/api/v1/projects/{owner.project}/workflows",
        json={"name": "Greeter", "definition": definition("greeter")},
        headers=owner.auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert (
        httpx.post(
            f"{admin}/api/v1/workflows/{workflow['id']}/deploy",
            json={},
            headers=owner.auth,
            timeout=30,
        ).status_code
        == 200
    )
    bad = httpx.post(
        f"{admin}/api/v1/workflows/{workflow['id']}/run",
        json={"triggerData": {}},
        headers=owner.auth,
        timeout=30,
    )
    assert bad.status_code == 422, bad.text  # the trigger's input schema is enforced end to end
    started = httpx.post(
        f"{admin}/api/v1/workflows/{workflow['id']}/run",
        json={"triggerData": {"name": "Ada"}},
        headers=owner.auth,
        timeout=30,
    )
    assert started.status_code in (200, 201), started.text
    instance = started.json()["instanceId"]

    waiting = wait_status(stack, owner, instance, lambda s: s["phase"] == "awaiting_approval")
    assert waiting["labels"]["projectId"] == owner.project
    assert waiting["outputs"]["hash"]["data"]["hash"]  # computed by function-runner's builtin
    approve = httpx.post(
        f"{stack.url('workflow-orchestrator')}/api/v2/workflows/{instance}/approvals/gate",
        json={"approved": True, "reason": "fine"},
        headers=owner.auth,
        timeout=30,
    )
    assert approve.status_code == 202, approve.text
    done = wait_status(stack, owner, instance, lambda s: s["runtimeStatus"] == "COMPLETED")
    assert done["outputs"]["greet"]["data"]["text"].startswith("hello Ada (")

    executions = httpx.get(
        f"{admin}/api/v1/workflows/{workflow['id']}/executions", headers=owner.auth, timeout=30
    ).json()
    assert instance in [e["instanceId"] for e in executions["items"]]
    audit = httpx.get(
        f"{admin}/api/v1/projects/{owner.project}/audit",
        params={"action": "execution."},
        headers=owner.auth,
        timeout=30,
    ).json()
    approvals = [e for e in audit["items"] if e["action"] == "execution.approval"]
    assert approvals and approvals[0]["detail"]["instanceId"] == instance


def test_api_keys_and_tenant_isolation(stack: Stack) -> None:
    owner = sign_up(stack, "bob")
    stranger = sign_up(stack, "eve")
    orchestrator = stack.url("workflow-orchestrator")
    admin = stack.url("admin-api")
    key = httpx.post(
        f"{admin}/api/v1/projects/{owner.project}/api-keys",
        json={"name": "ci", "role": "editor"},
        headers=owner.auth,
        timeout=30,
    )
    assert key.status_code == 201, key.text
    api_key = {"Authorization": f"Bearer {key.json()['key']}"}
    started = httpx.post(
        f"{orchestrator}/api/v2/workflows",
        params={"wait": 30},
        headers=api_key,
        timeout=60,
        json={
            "definition": {
                "id": "keyed",
                "nodes": [
                    {"id": "t", "type": "trigger", "config": {}},
                    {
                        "id": "s",
                        "type": "action",
                        "config": {"actionId": "system/set", "values": {"x": 1}},
                    },
                ],
                "edges": [{"id": "e", "source": "t", "target": "s"}],
            }
        },
    )
    assert started.status_code == 200, started.text
    run = started.json()
    assert run["labels"]["projectId"] == owner.project and run["runtimeStatus"] == "COMPLETED"
    instance = run["instanceId"]
    mine = httpx.get(
        f"{orchestrator}/api/v2/workflows/{instance}/status", headers=owner.auth, timeout=30
    )
    theirs = httpx.get(
        f"{orchestrator}/api/v2/workflows/{instance}/status", headers=stranger.auth, timeout=30
    )
    nobody = httpx.get(f"{orchestrator}/api/v2/workflows/{instance}/status", timeout=30)
    forged = httpx.get(
        f"{orchestrator}/api/v2/workflows/{instance}/status",
        headers={"Authorization": "Bearer " + owner.token[:-4] + "AAAA"},
        timeout=30,
    )
    assert mine.status_code == 200
    ghost = httpx.get(
        f"{orchestrator}/api/v2/workflows/no-such-run/status", headers=stranger.auth, timeout=30
    )
    assert theirs.status_code == ghost.status_code == 404  # exactly as if it did not exist
    assert set(theirs.json()) == set(ghost.json()) and owner.project not in theirs.text
    assert nobody.status_code == 401 and forged.status_code == 401
    listed = httpx.get(
        f"{orchestrator}/api/v2/workflows",
        params={"label": f"projectId:{owner.project}"},
        headers=stranger.auth,
        timeout=30,
    )
    assert listed.status_code == 404


def test_sub_workflow_by_saved_reference(stack: Stack) -> None:
    owner = sign_up(stack, "cy")
    admin = stack.url("admin-api")
    child = {
        "id": "child",
        "name": "child",
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {
                "id": "up",
                "type": "action",
                "label": "Up",
                "config": {"actionId": "system/template", "template": "got {{trigger.v}}"},
            },
        ],
        "edges": [{"id": "e", "source": "t", "target": "up"}],
    }
    made = httpx.post(
        f"{admin}/api/v1/projects/{owner.project}/workflows",
        json={"name": "Child Flow", "slug": "child-flow", "definition": child},
        headers=owner.auth,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    assert (
        httpx.post(
            f"{admin}/api/v1/workflows/{made.json()['id']}/deploy",
            json={},
            headers=owner.auth,
            timeout=30,
        ).status_code
        == 200
    )
    parent = {
        "id": "parent",
        "name": "parent",
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {
                "id": "sub",
                "type": "sub-workflow",
                "label": "Child",
                "config": {"workflowId": "child-flow", "input": {"v": 42}},
            },
        ],
        "edges": [{"id": "e", "source": "t", "target": "sub"}],
    }
    started = httpx.post(
        f"{stack.url('workflow-orchestrator')}/api/v2/workflows",
        params={"wait": 60},
        headers=owner.auth,
        json={"definition": parent, "labels": {"projectId": owner.project}},
        timeout=90,
    )
    assert started.status_code == 200, started.text
    result = started.json()
    assert result["runtimeStatus"] == "COMPLETED", result
    assert result["outputs"]["sub"]["outputs"]["up"]["data"]["text"] == "got 42"
