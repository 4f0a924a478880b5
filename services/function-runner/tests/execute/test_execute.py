"""``POST /execute``: the contract with the orchestrator."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from function_runner.builtins.base import BUILTINS, ExecutionContext, FunctionError, builtin

pytestmark = pytest.mark.integration

SECRET = "sk-live-VERY-SECRET-123"
CALLS: dict[str, int] = {}
GATE: dict[str, asyncio.Event] = {}


def _register() -> list[str]:
    @builtin(
        slug="test/sleep",
        name="Sleep",
        description="sleeps",
        category="test",
        input_schema={"type": "object", "properties": {"seconds": {"type": "number"}}},
        timeout_seconds=1,
    )
    async def sleep(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        await asyncio.sleep(input.get("seconds", 5))
        return {"slept": True}

    @builtin(
        slug="test/block",
        name="Block",
        description="waits for the gate",
        category="test",
        input_schema={"type": "object"},
    )
    async def block(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        await GATE["block"].wait()
        return {"released": True}

    @builtin(
        slug="test/count",
        name="Count",
        description="counts calls",
        category="test",
        input_schema={"type": "object"},
    )
    async def count(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        CALLS["count"] = CALLS.get("count", 0) + 1
        return {"calls": CALLS["count"]}

    @builtin(
        slug="test/flaky",
        name="Flaky",
        description="fails twice (retryable), then succeeds",
        category="test",
        input_schema={"type": "object"},
    )
    async def flaky(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        CALLS["flaky"] = CALLS.get("flaky", 0) + 1
        if CALLS["flaky"] < 3:
            raise FunctionError("try again", code="upstream", retryable=True)
        return {"calls": CALLS["flaky"]}

    @builtin(
        slug="test/leak",
        name="Leak",
        description="tries to leak its credential",
        category="test",
        input_schema={"type": "object", "properties": {"fail": {"type": "boolean"}}},
        integration_type="leaky",
    )
    async def leak(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        key = ctx.credentials["apiKey"]
        ctx.log.info("calling with %s", "[key omitted]")
        if input.get("fail"):
            raise FunctionError(f"upstream rejected key {key}", code="auth")
        if input.get("crash"):
            raise RuntimeError(f"boom with {key}")
        return {"echo": f"Bearer {key}", "nested": [{"k": key}]}

    @builtin(
        slug="test/bad-output",
        name="Bad output",
        description="returns data violating its output schema",
        category="test",
        input_schema={"type": "object"},
        output_schema={"type": "object", "required": ["id"]},
    )
    async def bad_output(input: dict[str, Any], ctx: ExecutionContext) -> Any:
        return {"name": "no id"}

    return ["test/sleep", "test/block", "test/count", "test/flaky", "test/leak", "test/bad-output"]


@pytest.fixture(autouse=True)
def test_builtins() -> Iterator[None]:
    slugs = _register()
    CALLS.clear()
    GATE["block"] = asyncio.Event()
    yield
    for slug in slugs:
        BUILTINS.pop(slug, None)


async def run(
    api: Any, body: Any, slug: str, input: dict[str, Any] | None = None, **kw: Any
) -> Any:
    return await api.client.post("/execute", json=body(slug, input, **kw))


class TestRequestProblems:
    async def test_unknown_slug_is_404_naming_it(self, api: Any, body: Any) -> None:
        r = await run(api, body, "nope/missing")
        assert r.status_code == 404
        assert "nope/missing" in r.json()["detail"]

    async def test_disabled_and_deprecated_are_409(self, api: Any, body: Any) -> None:
        await api.client.patch("/functions/test/count", json={"is_enabled": False})
        r = await run(api, body, "test/count")
        assert r.status_code == 409 and "disabled" in r.json()["detail"]
        await api.client.patch(
            "/functions/test/count", json={"is_enabled": True, "is_deprecated": True}
        )
        r = await run(api, body, "test/count")
        assert r.status_code == 409 and "deprecated" in r.json()["detail"]
        assert CALLS == {}

    async def test_input_schema_violations_are_422_with_field_errors(
        self, api: Any, body: Any
    ) -> None:
        r = await run(api, body, "system/hash", {"algorithm": "crc32"})
        assert r.status_code == 422
        problem = r.json()
        pointers = {e["pointer"] for e in problem["errors"]}
        assert pointers == {"/data", "/algorithm"}
        assert "system/hash" in problem["detail"]

    async def test_unknown_request_fields_are_refused(self, api: Any, body: Any) -> None:
        r = await run(api, body, "system/set", {"values": {}}, surprise=1)
        assert r.status_code == 422 and "surprise" in r.text

    async def test_oversized_body_is_413(
        self, app_factory: Any, sqlite_url: str, body: Any
    ) -> None:
        async with app_factory(sqlite_url, max_request_bytes=1000) as api:
            r = await run(api, body, "system/set", {"values": {"x": "y" * 2000}})
            assert r.status_code == 413

    async def test_app_token_is_required_when_configured(
        self, app_factory: Any, sqlite_url: str, body: Any
    ) -> None:
        async with app_factory(sqlite_url, app_api_token="tok-123") as api:
            r = await run(api, body, "system/set", {"values": {}})
            assert r.status_code == 401
            r = await api.client.post(
                "/execute",
                json=body("system/set", {"values": {}}),
                headers={"dapr-api-token": "tok-123"},
            )
            assert r.status_code == 200
            assert (await api.client.get("/healthz")).status_code == 200


class TestFunctionFailures:
    async def test_timeout_cancels_the_handler(self, api: Any, body: Any) -> None:
        r = await run(api, body, "test/sleep", {"seconds": 30})
        assert r.status_code == 200
        out = r.json()
        assert out["success"] is False and out["error_code"] == "timeout"
        assert out["retryable"] is True
        assert 900 <= out["duration_ms"] < 5000

    async def test_request_timeout_override(self, api: Any, body: Any) -> None:
        r = await run(api, body, "test/sleep", {"seconds": 30}, timeout_seconds=0.2)
        assert r.json()["error_code"] == "timeout" and r.json()["duration_ms"] < 900

    async def test_output_schema_violation(self, api: Any, body: Any) -> None:
        out = (await run(api, body, "test/bad-output")).json()
        assert out["success"] is False and out["error_code"] == "validation"
        assert out["data"] is None and "output_schema" in out["error"]

    async def test_runner_retry_policy_for_builtins(self, api: Any, body: Any) -> None:
        out = (await run(api, body, "test/flaky")).json()
        assert out["success"] is False and out["retryable"] is True and CALLS["flaky"] == 1
        CALLS.clear()
        await api.client.patch(
            "/functions/test/flaky",
            json={"retry_policy": {"maxAttempts": 3, "initialIntervalSeconds": 0.01}},
        )
        out = (await run(api, body, "test/flaky")).json()
        assert out["success"] is True and out["attempts"] == 3

    async def test_oci_without_executor_is_a_clear_failure(self, api: Any, body: Any) -> None:
        if api.runtime.oci_runner is not None:
            pytest.skip("the OCI executor is installed")
        await api.client.post(
            "/functions",
            json={
                "slug": "custom/job",
                "name": "Job",
                "execution_type": "oci",
                "image_ref": "example.com/job:1",
            },
        )
        out = (await run(api, body, "custom/job")).json()
        assert out["success"] is False and "OCI executor" in out["error"]


class TestConcurrency:
    async def _limit(self, api: Any, body: Any) -> None:
        await api.client.patch("/functions/test/block", json={"max_concurrency": 1})
        first = asyncio.create_task(run(api, body, "test/block"))
        for _ in range(200):
            if await api.runtime.limiter.running("test/block") == 1:
                break
            await asyncio.sleep(0.01)
        second = await run(api, body, "test/block")
        assert second.status_code == 429
        assert second.headers["retry-after"] == "1"
        assert "max_concurrency" in second.json()["detail"]
        GATE["block"].set()
        assert (await first).json()["success"] is True
        third = await run(api, body, "test/block")
        assert third.status_code == 200 and third.json()["success"] is True
        assert await api.runtime.limiter.running("test/block") == 0

    async def test_in_process_limit(self, api: Any, body: Any) -> None:
        assert api.runtime.limiter.backend == "local"
        await self._limit(api, body)

    async def test_redis_limit_is_shared_between_replicas(
        self, app_factory: Any, sqlite_url: str, body: Any
    ) -> None:
        prefix = f"frtest-{uuid.uuid4().hex}"
        settings = {"redis_url": "redis://127.0.0.1:6379/0", "redis_key_prefix": prefix}
        async with (
            app_factory(sqlite_url, **settings) as one,
            app_factory(sqlite_url, **settings) as two,
        ):
            assert one.runtime.limiter.backend == "redis"
            await one.client.patch("/functions/test/block", json={"max_concurrency": 1})
            first = asyncio.create_task(run(one, body, "test/block"))
            for _ in range(200):
                if await two.runtime.limiter.running("test/block") == 1:
                    break
                await asyncio.sleep(0.01)
            rejected = await run(two, body, "test/block")
            assert rejected.status_code == 429
            GATE["block"].set()
            assert (await first).json()["success"] is True
            assert (await run(two, body, "test/block")).status_code == 200


class TestResponseShape:
    async def test_seed_fields_always_extras_only_when_set(self, api: Any, body: Any) -> None:
        ok = (await run(api, body, "test/count")).json()
        assert {"success", "data", "error", "duration_ms"} <= ok.keys()
        assert ok["error"] is None
        assert not {"error_code", "retryable", "job_name", "pod_name"} & ok.keys()
        failed = (await run(api, body, "test/bad-output")).json()
        assert failed["success"] is False and failed["data"] is None
        assert failed["error_code"] == "validation"


class TestIdempotency:
    async def test_repeat_returns_recorded_result_without_running(
        self, api: Any, body: Any
    ) -> None:
        first = await run(api, body, "test/count", idempotency_key="exec-1:node-1")
        second = await run(api, body, "test/count", idempotency_key="exec-1:node-1")
        assert first.json()["data"] == second.json()["data"] == {"calls": 1}
        assert second.headers.get("idempotent-replayed") == "true"
        other = await run(api, body, "test/count", idempotency_key="exec-1:node-2")
        assert other.json()["data"] == {"calls": 2}


class TestSecrets:
    async def test_credentials_are_redacted_from_data_errors_and_logs(
        self, api: Any, body: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        creds = {"leaky": {"apiKey": SECRET}}
        ok = await run(api, body, "test/leak", integrations=creds)
        failed = await run(api, body, "test/leak", {"fail": True}, integrations=creds)
        crashed = await run(api, body, "test/leak", {"crash": True}, integrations=creds)
        assert ok.json()["data"] == {"echo": "Bearer [redacted]", "nested": [{"k": "[redacted]"}]}
        assert failed.json()["error"] == "upstream rejected key [redacted]"
        assert crashed.json()["error_code"] == "internal"
        for response in (ok, failed, crashed):
            assert SECRET not in response.text
        assert SECRET not in caplog.text
        assert SECRET not in json.dumps([r.__dict__ for r in caplog.records], default=str)


class TestRecording:
    async def test_metrics_and_log_context(
        self, api: Any, body: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="function_runner.execute")
        await run(api, body, "system/set", {"values": {"a": 1}}, attempt=2)
        metrics = (await api.client.get("/metrics")).text
        assert (
            'workflow_step_executions_total{pipeline="wf-1",status="success",step="system/set"} 1.0'
            in metrics
        )
        assert 'workflow_step_duration_seconds_count{pipeline="wf-1",step="system/set"' in metrics
        assert 'workflow_step_retries_total{pipeline="wf-1",step="system/set"' in metrics
        record = next(r for r in caplog.records if r.name == "function_runner.execute")
        assert record.status == "success"
