"""The platform's edges under `wfb dev` (every app of dapr.yaml, as `make run` starts them):
`wfb run` / `wfb approve` as a user types them, and public webhooks through the BFF."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .platform import Platform, running_platform

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"
WFB = str(Path(sys.executable).parent / "wfb")


def wait_until_ready(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("edge"), ready_timeout_s=180) as running:
        ready = wait_until_ready(running.url("workflow-orchestrator", "/readyz"), 120)
        assert ready, running.log_tail()
        yield running


@dataclass
class User:
    token: str
    project: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(stack: Platform, name: str) -> User:
    admin = stack.url("admin-api")
    email = f"{name}-{time.time_ns()}@example.com"
    registered = httpx.post(
        f"{admin}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert registered.status_code == 201, registered.text
    token = httpx.post(
        f"{admin}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()["accessToken"]
    auth = {"Authorization": f"Bearer {token}"}
    project = registered.json().get("defaultProjectId")
    if project is None:
        company = httpx.post(
            f"{admin}/api/v1/companies", json={"name": f"{name} co"}, headers=auth, timeout=30
        ).json()
        org = httpx.post(
            f"{admin}/api/v1/companies/{company['id']}/organizations",
            json={"name": f"{name} org"},
            headers=auth,
            timeout=30,
        ).json()
        project = httpx.post(
            f"{admin}/api/v1/organizations/{org['id']}/projects",
            json={"name": f"{name} project"},
            headers=auth,
            timeout=30,
        ).json()["id"]
    key = httpx.post(
        f"{admin}/api/v1/projects/{project}/api-keys",
        json={"name": "cli", "role": "editor"},
        headers=auth,
        timeout=30,
    )
    assert key.status_code == 201, key.text
    return User(token=token, project=project, api_key=key.json()["key"])


# --- wfb run / wfb approve ------------------------------------------------------------------


def approval_flow(wid: str) -> dict[str, Any]:
    return {
        "id": wid,
        "name": wid,
        "version": "1.0.0",
        "nodes": [
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
                "config": {"timeoutHours": 1, "message": "ship it?"},
            },
            {
                "id": "greet",
                "type": "action",
                "label": "Greet",
                "config": {"actionId": "system/template", "template": "hello {{trigger.name}}"},
            },
        ],
        "edges": [
            {"id": "1", "source": "trigger", "target": "hash"},
            {"id": "2", "source": "hash", "target": "gate"},
            {"id": "3", "source": "gate", "target": "greet", "sourceHandle": "approved"},
        ],
        "executionOrder": [],
    }


class Cli:
    """`wfb run` in a subprocess, its stdout read line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [WFB, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line.rstrip("\n"))
            if text in line:
                return line
        stderr = (
            self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        )
        raise AssertionError(f"no line with {text!r}: {self.seen} {stderr}")

    def finish(self, timeout: float = 90) -> tuple[int, list[str], str]:
        code = self.proc.wait(timeout)
        time.sleep(0.2)
        while not self.lines.empty():
            self.seen.append(self.lines.get().rstrip("\n"))
        assert self.proc.stderr is not None
        return code, self.seen, self.proc.stderr.read()


@pytest.mark.parametrize("answer", ["approve", "reject"])
def test_wfb_run_follows_to_the_gate_and_wfb_approve_answers_it(
    stack: Platform, tmp_path: Path, answer: str
) -> None:
    user = sign_up(stack, f"cli-{answer}")
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(approval_flow(f"cli-{answer}")))
    env = {"WFB_URL": stack.url("workflow-orchestrator"), "WFB_TOKEN": user.api_key}
    cli = Cli(["run", str(flow), "--input", '{"name": "Ada"}', "--wait-timeout", "120"], env)
    requested = cli.wait_for("approval.requested")
    command = requested.split("answer with: ")[1].split()
    assert command[:2] == ["wfb", "approve"] and command[3] == "gate"
    run_id = command[2]
    extra = ["--reject", "--reason", "not today"] if answer == "reject" else ["--reason", "ok"]
    answered = subprocess.run(
        [WFB, "approve", run_id, "gate", *extra],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert answered.returncode == 0, answered.stderr
    code, lines, stderr = cli.finish()
    kinds = [line.split()[1] for line in lines[:-1] if len(line.split()) > 1]
    assert "run.started" in kinds and "approval.answered" in kinds, lines
    if answer == "approve":
        assert code == 0, (lines, stderr)
        assert any("greet (Greet)" in line for line in lines)
        assert lines[-1] == f"run {run_id}: COMPLETED"
    else:
        assert code == 1, (lines, stderr)
        assert any("node.skipped" in line and "greet" in line for line in lines)
        assert not any("node.completed" in line and "greet" in line for line in lines)
        assert lines[-1].startswith(f"run {run_id}: COMPLETED (rejected)")
    again = subprocess.run(
        [WFB, "approve", run_id, "gate"], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert again.returncode == 1 and "not waiting" in again.stderr  # the gate was answered


def test_wfb_run_refuses_bad_input_and_foreign_credentials(stack: Platform, tmp_path: Path) -> None:
    user = sign_up(stack, "cli-bad")
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(approval_flow("cli-bad")))
    env = {**os.environ, "WFB_URL": stack.url("workflow-orchestrator")}
    bad_input = subprocess.run(
        [WFB, "run", str(flow), "--input", "{}"],
        capture_output=True,
        text=True,
        env={**env, "WFB_TOKEN": user.api_key},
    )
    assert bad_input.returncode == 2 and "'name' is a required property" in bad_input.stderr
    no_key = subprocess.run(
        [WFB, "run", str(flow), "--input", '{"name": "x"}'],
        capture_output=True,
        text=True,
        env={**env, "WFB_TOKEN": ""},
    )
    assert no_key.returncode == 2 and "WFB_TOKEN" in no_key.stderr
    stranger = sign_up(stack, "cli-stranger")
    foreign = subprocess.run(
        [WFB, "approve", "cli-bad-no-such-run", "gate"],
        capture_output=True,
        text=True,
        env={**env, "WFB_TOKEN": stranger.api_key},
    )
    assert foreign.returncode == 2 and "not found" in foreign.stderr
