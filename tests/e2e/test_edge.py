"""The platform's edges under `wfb dev` (every app of dapr.yaml, as `make run` starts them):
`wfb run` / `wfb approve` as a user types them, and public webhooks through the BFF."""

from __future__ import annotations

import hashlib
import hmac
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
from .stack import sign_up as register

pytestmark = pytest.mark.e2e
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
    token, project = register(stack.url("admin-api"), name)
    key = httpx.post(
        f"{stack.url('admin-api')}/api/v1/projects/{project}/api-keys",
        json={"name": "cli", "role": "editor"},
        headers={"Authorization": f"Bearer {token}"},
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


# --- webhooks through the BFF ---------------------------------------------------------------


def webhook_flow(wid: str, **webhook: Any) -> dict[str, Any]:
    return {
        "id": wid,
        "name": wid,
        "version": "1.0.0",
        "nodes": [
            {
                "id": "trigger",
                "type": "trigger",
                "label": "Hook",
                "config": {
                    "triggerType": "webhook",
                    "webhook": webhook,
                    "inputSchema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
                        "required": ["name"],
                    },
                },
            },
            {
                "id": "greet",
                "type": "action",
                "label": "Greet",
                "config": {"actionId": "system/template", "template": "hello {{trigger.name}}"},
            },
        ],
        "edges": [{"id": "e", "source": "trigger", "target": "greet"}],
        "executionOrder": [],
    }


@dataclass
class Hook:
    stack: Platform
    owner: User
    workflow_id: str
    secret: str

    @property
    def url(self) -> str:
        return f"{self.stack.base_url}/hooks/{self.workflow_id}"

    def signed(
        self, body: bytes, timestamp: int | None = None, secret: str | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        mac = hmac.new((secret or self.secret).encode(), f"{ts}.".encode() + body, hashlib.sha256)
        return {
            "Content-Type": "application/json",
            "X-WFB-Timestamp": ts,
            "X-WFB-Signature": f"sha256={mac.hexdigest()}",
        }

    def post(self, body: bytes, headers: dict[str, str], query: str = "") -> httpx.Response:
        return httpx.post(self.url + query, content=body, headers=headers, timeout=90)

    def run_status(self, instance_id: str, until_done: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + 90
        while True:
            status = httpx.get(
                f"{self.stack.url('workflow-orchestrator')}/api/v2/workflows/{instance_id}/status",
                headers=self.owner.auth,
                timeout=30,
            ).json()
            if not until_done or status.get("runtimeStatus") in ("COMPLETED", "FAILED"):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.3)

    def firings(self) -> list[dict[str, Any]]:
        admin = self.stack.url("admin-api")
        body = httpx.get(
            f"{admin}/api/v1/workflows/{self.workflow_id}/triggers/firings",
            headers=self.owner.auth,
            timeout=30,
        ).json()
        return list(body["items"])


def deploy_webhook(stack: Platform, name: str, **webhook: Any) -> Hook:
    owner = sign_up(stack, name)
    admin = stack.url("admin-api")
    created = httpx.post(
        f"{admin}/api/v1/projects/{owner.project}/workflows",
        json={"name": name, "definition": webhook_flow(name, **webhook)},
        headers=owner.auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    deployed = httpx.post(
        f"{admin}/api/v1/workflows/{wid}/deploy", json={}, headers=owner.auth, timeout=30
    )
    assert deployed.status_code == 200, deployed.text
    secret = httpx.post(
        f"{admin}/api/v1/workflows/{wid}/webhook/secret", headers=owner.auth, timeout=30
    )
    assert secret.status_code == 200, secret.text
    return Hook(stack, owner, wid, secret.json()["secret"])


@pytest.fixture(scope="module")
def async_hook(stack: Platform) -> Hook:
    return deploy_webhook(stack, "hook-async", mode="async", auth="hmac", toleranceSeconds=60)


def test_webhook_good_signature_starts_a_run_async(async_hook: Hook) -> None:
    body = b'{"name": "Ada", "n": 1}'
    answer = async_hook.post(body, async_hook.signed(body))
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert set(started) >= {"instanceId", "firingId"}
    status = async_hook.run_status(started["instanceId"])
    assert status["runtimeStatus"] == "COMPLETED", status
    assert status["outputs"]["greet"]["data"]["text"] == "hello Ada"
    assert status["labels"]["trigger"] == "webhook"
    assert status["labels"]["projectId"] == async_hook.owner.project
    fired = {f["id"]: f for f in async_hook.firings()}
    assert fired[started["firingId"]]["instanceId"] == started["instanceId"]
    assert fired[started["firingId"]]["status"] == "started"


def test_webhook_query_parameters_fill_in_and_are_coerced(async_hook: Hook) -> None:
    body = b'{"name": "Grace"}'
    answer = async_hook.post(body, async_hook.signed(body), query="?n=7&name=ignored")
    assert answer.status_code == 202, answer.text
    status = async_hook.run_status(answer.json()["instanceId"], until_done=False)
    trigger = httpx.get(
        f"{async_hook.stack.url('workflow-orchestrator')}/api/v2/workflows/"
        f"{answer.json()['instanceId']}/timeline",
        headers=async_hook.owner.auth,
        timeout=30,
    ).json()
    data = next(n for n in trigger["nodes"] if n["nodeId"] == "trigger")["output"]
    assert data == {"name": "Grace", "n": 7}, (status, data)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "signature"),
        ("tampered body", "signature"),
        ("no signature", "x-wfb-signature"),
        ("too old", "timestamp"),
        ("from the future", "timestamp"),
    ],
)
def test_webhook_bad_signatures_are_401_and_start_nothing(
    async_hook: Hook, case: str, expected: str
) -> None:
    body = b'{"name": "Mallory"}'
    now = int(time.time())
    headers = {
        "wrong secret": async_hook.signed(body, secret="not-the-secret"),
        "tampered body": async_hook.signed(b'{"name": "Eve"}'),
        "no signature": {"Content-Type": "application/json"},
        "too old": async_hook.signed(body, timestamp=now - 3600),
        "from the future": async_hook.signed(body, timestamp=now + 3600),
    }[case]
    before = len(async_hook.firings())
    answer = async_hook.post(body, headers)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert expected in answer.json()["detail"].lower()
    assert len(async_hook.firings()) == before


def test_webhook_replayed_signature_is_refused(async_hook: Hook) -> None:
    body = b'{"name": "Once"}'
    headers = async_hook.signed(body)
    first = async_hook.post(body, headers)
    assert first.status_code == 202, first.text
    replayed = async_hook.post(body, headers)
    assert replayed.status_code == 401, replayed.text
    assert "replay" in replayed.json()["detail"].lower() or "already" in replayed.json()["detail"]


def test_webhook_schema_violation_is_422_with_field_errors(async_hook: Hook) -> None:
    for body in (b'{"n": 3}', b'{"name": 5}', b'{"name": "x", "n": "many"}'):
        answer = async_hook.post(body, async_hook.signed(body))
        assert answer.status_code == 422, (body, answer.text)
        problem = answer.json()
        assert problem["errors"], problem
    not_json = b"name=Ada"
    answer = async_hook.post(
        not_json, {**async_hook.signed(not_json), "Content-Type": "text/plain"}
    )
    assert answer.status_code == 415, answer.text


def test_webhook_idempotency_key_answers_the_first_outcome(async_hook: Hook) -> None:
    key = f"order-{time.time_ns()}"
    body = b'{"name": "Idem"}'
    first = async_hook.post(body, {**async_hook.signed(body), "Idempotency-Key": key})
    again = async_hook.post(body, {**async_hook.signed(body), "Idempotency-Key": key})
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.json()["instanceId"] == first.json()["instanceId"]
    assert again.headers.get("idempotent-replayed") == "true"


def test_webhook_sync_mode_answers_the_result(stack: Platform) -> None:
    hook = deploy_webhook(stack, "hook-sync", mode="sync", auth="hmac", syncTimeoutSeconds=60)
    body = b'{"name": "Sync"}'
    answer = hook.post(body, hook.signed(body))
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["runtimeStatus"] == "COMPLETED"
    assert done["outputs"]["greet"]["data"]["text"] == "hello Sync"
    assert done["instanceId"]


def test_webhook_bearer_mode(stack: Platform) -> None:
    hook = deploy_webhook(stack, "hook-bearer", mode="async", auth="bearer")
    body = b'{"name": "Bea"}'
    json_type = {"Content-Type": "application/json"}
    good = hook.post(body, {**json_type, "Authorization": f"Bearer {hook.secret}"})
    assert good.status_code == 202, good.text
    assert hook.run_status(good.json()["instanceId"])["runtimeStatus"] == "COMPLETED"
    bad = hook.post(body, {**json_type, "Authorization": "Bearer nope"})
    missing = hook.post(body, json_type)
    assert bad.status_code == missing.status_code == 401
    signed_instead = hook.post(body, hook.signed(body))  # HMAC headers do not replace it
    assert signed_instead.status_code == 401


def test_webhook_unknown_stopped_or_other_workflows_are_404(stack: Platform) -> None:
    hook = deploy_webhook(stack, "hook-stop", mode="async", auth="bearer")
    bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {hook.secret}"}
    unknown = httpx.post(f"{stack.base_url}/hooks/no-such-workflow", json={}, headers=bearer)
    assert unknown.status_code == 404
    stopped = httpx.post(
        f"{stack.url('admin-api')}/api/v1/workflows/{hook.workflow_id}/stop",
        headers=hook.owner.auth,
        timeout=30,
    )
    assert stopped.status_code == 200, stopped.text
    after_stop = hook.post(b'{"name": "late"}', bearer)
    assert after_stop.status_code == 404
    assert after_stop.json()["title"] == unknown.json()["title"]


def test_webhook_internal_endpoint_is_not_public(async_hook: Hook) -> None:
    """Only the BFF (Dapr caller builder-bff) may call admin-api's internal endpoint."""
    body = b'{"name": "direct"}'
    direct = httpx.post(
        f"{async_hook.stack.url('admin-api')}/api/v1/internal/webhooks/{async_hook.workflow_id}",
        content=body,
        headers=async_hook.signed(body),
        timeout=30,
    )
    assert direct.status_code in (401, 403), direct.text
