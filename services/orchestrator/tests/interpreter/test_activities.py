"""Activities against a loopback stand-in for the Dapr sidecar's invocation and publish APIs."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography.exceptions import InvalidTag
from dapr.ext.workflow import WorkflowActivityContext
from dapr.ext.workflow._durabletask import task as dt_task
from dapr.ext.workflow._durabletask.task import NonRetryableError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from orchestrator.interpreter import activities as act
from orchestrator.records.models import ExecutionEvent, RunNode, RunSecret
from orchestrator.records.store import Notifier
from orchestrator.secrets_box import SecretsBox
from orchestrator.settings import Settings
from service_kit.testing import free_port

pytestmark = pytest.mark.integration


class FakeSidecar:
    """Answers ``/v1.0/invoke/function-runner/method/execute`` and ``/v1.0/publish``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: list[tuple[int, Any]] = []
        self.published: list[tuple[str, Any, dict[str, str]]] = []
        self.delay = 0.0
        app = FastAPI()

        @app.post("/v1.0/invoke/function-runner/method/execute")
        async def execute(request: Request) -> Response:
            self.requests.append(await request.json())
            await asyncio.sleep(self.delay)
            self.headers.append(dict(request.headers))
            status, body = (
                self.replies.pop(0)
                if self.replies
                else (200, {"success": True, "data": {"ok": 1}, "error": None, "duration_ms": 2})
            )
            return JSONResponse(body, status_code=status)

        @app.post("/v1.0/publish/{pubsub}/{topic}")
        async def publish(pubsub: str, topic: str, request: Request) -> Response:
            self.published.append(
                (f"{pubsub}/{topic}", await request.json(), dict(request.query_params))
            )
            return Response(status_code=204)

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeSidecar:
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def sidecar() -> Iterator[FakeSidecar]:
    with FakeSidecar() as fake:
        yield fake


@pytest.fixture
async def env(database_url: str, sidecar: FakeSidecar, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, database_url=database_url, dapr_http_port=sidecar.port)
    environment = act.ActivityEnv(settings, SecretsBox(b"k" * 32), Notifier())
    act.ActivityEnv.install(environment)
    store = environment.resources().store
    await store.create_run(
        instance_id="run-1",
        workflow_id="wf",
        name="wf",
        definition={"id": "wf"},
        trigger_data={},
        labels={"projectId": "p1"},
    )
    yield environment
    await environment.close()


def context(task_id: int = 1, execution_id: str = "") -> WorkflowActivityContext:
    return WorkflowActivityContext(dt_task.ActivityContext("run-1", task_id, execution_id))


def action(**overrides: Any) -> dict[str, Any]:
    base = {
        "instanceId": "run-1",
        "workflowId": "wf",
        "nodeKey": "a",
        "nodeId": "a",
        "nodeName": "Call",
        "functionSlug": "x/y",
        "input": {"q": 1, "token": "secret-value"},
        "maxAttempts": 3,
    }
    return {**base, **overrides}


async def seal(env: act.ActivityEnv, credentials: dict[str, Any]) -> bytes:
    """Store ``credentials`` as run-1's sealed integrations; the ciphertext."""
    nonce, ciphertext = env.secrets.seal("run-1", credentials)
    async with env.resources().store.sessions() as session, session.begin():
        session.add(
            RunSecret(
                instance_id="run-1", key_id=env.secrets.key_id, nonce=nonce, ciphertext=ciphertext
            )
        )
    return ciphertext


async def node_row(env: act.ActivityEnv, key: str = "a") -> RunNode:
    async with env.resources().store.sessions() as session:
        row = await session.get(RunNode, ("run-1", key))
    assert row is not None
    return row


class TestExecuteAction:
    async def test_calls_function_runner_with_the_seed_request(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        result = await act.execute_action(
            context(), action(traceParent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
        )
        assert result["success"] is True and result["data"] == {"ok": 1}
        body = sidecar.requests[0]
        assert {
            k: body[k]
            for k in (
                "function_slug",
                "execution_id",
                "workflow_id",
                "node_id",
                "node_name",
                "input",
                "attempt",
            )
        } == {
            "function_slug": "x/y",
            "execution_id": "run-1",
            "workflow_id": "wf",
            "node_id": "a",
            "node_name": "Call",
            "input": {"q": 1, "token": "secret-value"},
            "attempt": 1,
        }
        assert body["idempotency_key"] == "run-1:a:1"
        assert sidecar.headers[0]["traceparent"].split("-")[1] == "a" * 32
        row = await node_row(env)
        assert (row.status, row.attempts) == ("completed", 1)
        assert row.input == {"q": 1, "token": "[redacted]"}

    async def test_project_and_credential_name_reach_function_runner(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        await act.execute_action(context(), action(tenantId="proj-1", credentialName="billing"))
        body = sidecar.requests[0]
        assert (body["tenant_id"], body["credential_name"]) == ("proj-1", "billing")
        await act.execute_action(context(2), action(nodeKey="b", nodeId="b"))
        assert (
            "tenant_id" not in sidecar.requests[1] and "credential_name" not in sidecar.requests[1]
        )

    async def test_redelivered_activity_returns_the_recorded_result(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        first = await act.execute_action(context(7), action())
        again = await act.execute_action(context(7), action())
        assert first == again and len(sidecar.requests) == 1
        async with env.resources().store.sessions() as session:
            kinds = (
                (
                    await session.execute(
                        select(ExecutionEvent.type).where(ExecutionEvent.node_key == "a")
                    )
                )
                .scalars()
                .all()
            )
        assert list(kinds) == ["node.started", "node.completed"]

    async def test_retryable_failure_records_retrying_and_raises(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        sidecar.replies.append(
            (503, {"title": "Service Unavailable", "status": 503, "detail": "overloaded"})
        )
        with pytest.raises(act.RetryableActionError, match="overloaded"):
            await act.execute_action(context(1), action())
        sidecar.replies.append(
            (200, {"success": False, "error": "rate limited", "retryable": True})
        )
        with pytest.raises(act.RetryableActionError, match="rate limited"):
            await act.execute_action(context(2), action())
        await act.execute_action(context(3), action())
        row = await node_row(env)
        assert (row.status, row.attempts) == ("completed", 3)
        assert [e["error"] for e in row.detail["attemptErrors"]] == [
            "x/y: overloaded (HTTP 503)",
            "rate limited",
        ]

    async def test_last_attempt_and_client_errors_are_not_retryable(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        sidecar.replies.append(
            (
                422,
                {
                    "title": "Unprocessable",
                    "status": 422,
                    "detail": "input is invalid",
                    "errors": [{"loc": ["input", "url"], "message": "is required"}],
                },
            )
        )
        with pytest.raises(
            NonRetryableError, match=r"input is invalid: input.url: is required \(HTTP 422\)"
        ):
            await act.execute_action(context(1), action())
        sidecar.replies.append((200, {"success": False, "error": "bad card", "retryable": False}))
        with pytest.raises(NonRetryableError, match="bad card"):
            await act.execute_action(context(2), action())
        sidecar.replies.append((500, {"detail": "boom"}))
        with pytest.raises(NonRetryableError):
            await act.execute_action(context(3), action(maxAttempts=1))

    async def test_integrations_travel_encrypted_and_reach_function_runner(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        ciphertext = await seal(env, {"openai": {"apiKey": "sk-9"}})
        await act.execute_action(context(), action())
        assert sidecar.requests[0]["integrations"] == {"openai": {"apiKey": "sk-9"}}
        assert b"sk-9" not in ciphertext

    async def test_credentials_a_function_echoes_are_not_recorded(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        await seal(env, {"stripe": {"secretKey": "sk_live_abcdef123", "account": "acct_0042xyz"}})
        echoed = {"sent": "Bearer sk_live_abcdef123", "who": ["acct_0042xyz"], "n": 1}
        sidecar.replies.append((200, {"success": True, "data": echoed, "error": None}))
        result = await act.execute_action(context(), action())
        assert result["data"] == echoed  # the run itself gets the output as it came
        row = await node_row(env)
        assert row.output["data"] == {"sent": "Bearer [redacted]", "who": ["[redacted]"], "n": 1}

        # an input built from such an output is recorded without it; the call gets it whole
        await act.execute_action(
            context(3), action(nodeKey="c", nodeId="c", input={"auth": "Bearer sk_live_abcdef123"})
        )
        assert sidecar.requests[-1]["input"] == {"auth": "Bearer sk_live_abcdef123"}
        assert (await node_row(env, "c")).input == {"auth": "Bearer [redacted]"}
        sidecar.replies.append(
            (200, {"success": False, "error": "key sk_live_abcdef123 was revoked"})
        )
        # the workflow records the failure from this message
        with pytest.raises(NonRetryableError, match=r"key \[redacted\] was revoked"):
            await act.execute_action(context(2), action(nodeKey="b", nodeId="b"))
        async with env.resources().store.sessions() as session:
            recorded = (await session.execute(select(ExecutionEvent.data))).scalars().all()
        assert recorded and "sk_live" not in json.dumps(recorded)

    async def test_unreachable_function_runner_is_retryable(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        env.settings.dapr_http_port = free_port()
        await env.close()
        with pytest.raises(act.RetryableActionError, match="unreachable"):
            await act.execute_action(context(), action())


class TestSidecarClient:
    async def test_a_slow_answer_times_out(self, env: Any, sidecar: FakeSidecar) -> None:
        sidecar.delay = 1
        with pytest.raises(TimeoutError):
            await env.resources().http.call(
                "POST", "/v1.0/invoke/function-runner/method/execute", json_body={}, timeout_s=0.2
            )

    async def test_json_body_is_compact_and_refuses_nan(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        reply = await env.resources().http.call(
            "POST",
            "/v1.0/invoke/function-runner/method/execute",
            json_body={"a": [1, "é"]},
            timeout_s=5,
        )
        assert reply.status == 200 and reply.json()["success"] is True
        assert sidecar.requests == [{"a": [1, "é"]}]
        assert sidecar.headers[0]["content-type"] == "application/json"
        with pytest.raises(ValueError, match="Out of range float"):
            await env.resources().http.call("POST", "/x", json_body={"a": math.nan}, timeout_s=5)
        assert len(sidecar.requests) == 1


class TestClose:
    async def test_a_stopped_loops_connections_are_closed_on_that_loop(
        self, env: Any, sidecar: FakeSidecar
    ) -> None:
        """The workflow worker's loop has stopped by the time the app closes the
        activities' resources: its connections are closed too, not left to the GC."""
        worker_loop = asyncio.new_event_loop()

        async def work() -> Any:
            res = env.resources()
            await res.http.call(
                "POST", "/v1.0/invoke/function-runner/method/execute", json_body={}, timeout_s=5
            )
            return res

        try:
            theirs = await asyncio.to_thread(worker_loop.run_until_complete, work())
            mine = env.resources()
            assert theirs is not mine
            await env.close()
            assert theirs.http._session.closed and mine.http._session.closed
            assert env.resources() is not mine  # a later use starts afresh
        finally:
            worker_loop.close()


class TestPublishAndRecords:
    async def test_publish_event(self, env: Any, sidecar: FakeSidecar) -> None:
        task = {
            "instanceId": "run-1",
            "nodeKey": "p",
            "nodeId": "p",
            "pubsubName": "pubsub",
            "topic": "orders",
            "data": {"id": 1},
            "metadata": {"ttlInSeconds": "60"},
        }
        result = await act.publish_event(context(), task)
        assert result["data"]["published"] is True
        assert sidecar.published == [("pubsub/orders", {"id": 1}, {"metadata.ttlInSeconds": "60"})]
        assert (await node_row(env, "p")).status == "completed"

    async def test_finish_run_writes_the_outcome(self, env: Any) -> None:
        await act.finish_run(
            context(),
            {
                "instanceId": "run-1",
                "runtimeStatus": "FAILED",
                "phase": "failed",
                "message": "x failed",
                "error": "node x failed",
                "events": [],
            },
        )
        async with env.resources().store.sessions() as session:
            from orchestrator.records.models import Run

            run = await session.get(Run, "run-1")
        assert run is not None and (run.runtime_status, run.phase, run.error) == (
            "FAILED",
            "failed",
            "node x failed",
        )


def test_secrets_box_binds_ciphertext_to_the_run(tmp_path: Path) -> None:
    box = SecretsBox.from_setting(None, tmp_path, embedded=True)
    nonce, sealed = box.seal("run-a", {"k": "v"})
    assert box.open("run-a", nonce, sealed) == {"k": "v"}
    with pytest.raises(InvalidTag):
        box.open("run-b", nonce, sealed)
    assert SecretsBox.from_setting(None, tmp_path, embedded=True).key_id == box.key_id
    with pytest.raises(ValueError, match="required outside embedded mode"):
        SecretsBox.from_setting(None, tmp_path / "x", embedded=False)
