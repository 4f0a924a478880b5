"""HTTP functions against a real loopback webhook (allow-listed for the test)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def app_for(app_factory: Any, database_url: str) -> Any:
    def make(server: Any, **overrides: Any) -> Any:
        return app_factory(
            database_url,
            ssrf_allow_cidrs=["127.0.0.1/32"],
            **overrides,
        )

    return make


async def register(api: Any, server: Any, **fields: Any) -> None:
    payload = {
        "slug": "hooks/call",
        "name": "Call",
        "execution_type": "http",
        "webhook_url": f"{server.url}/hook",
        "retry_policy": {"maxAttempts": 3, "initialIntervalSeconds": 0.01},
        **fields,
    }
    r = await api.client.post("/functions", json=payload)
    assert r.status_code == 201, r.text


class TestHttpFunctions:
    async def test_body_context_headers_and_unwrapped_data(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(lambda r: reply_cls(body={"success": True, "data": {"n": 2}})) as server:
            async with app_for(server) as api:
                await register(
                    api,
                    server,
                    integration_type="acme",
                    webhook_headers={"X-Static": "yes"},
                    webhook_method="PUT",
                )
                r = await api.client.post(
                    "/execute",
                    json=body(
                        "hooks/call",
                        {"value": 1},
                        integrations={"acme": {"HEADER_X_API_KEY": "k-123456", "other": "x"}},
                        attempt=2,
                        idempotency_key="idem-1",
                    ),
                )
            out = r.json()
            assert out["success"] is True and out["data"] == {"n": 2}
            (request,) = server.requests
            assert request.method == "PUT" and request.path == "/hook"
            assert request.json() == {
                "value": 1,
                "_context": {
                    "execution_id": "exec-1",
                    "workflow_id": "wf-1",
                    "node_id": "node-1",
                    "node_name": "Node One",
                    "attempt": 2,
                },
            }
            assert request.headers["x-api-key"] == "k-123456"
            assert request.headers["x-static"] == "yes"
            assert request.headers["idempotency-key"] == "idem-1"
            assert "traceparent" in request.headers

    async def test_retries_5xx_then_succeeds(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        answers = iter(
            [reply_cls(status=503, body={"e": 1}), reply_cls(status=502), reply_cls(body={"ok": 1})]
        )
        with server_cls(lambda r: next(answers)) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is True and out["data"] == {"ok": 1}
            assert len(server.requests) == 3

    async def test_network_errors_are_retried(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        answers = iter([reply_cls(close=True), reply_cls(body={"ok": 2})])
        with server_cls(lambda r: next(answers)) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is True, out
            assert len(server.requests) == 2

    async def test_exhausted_retries_report_status_and_excerpt(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(lambda r: reply_cls(status=500, body={"why": "db down"})) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is False and out["error_code"] == "upstream"
            assert out["retryable"] is True
            assert out["error_details"]["status"] == 500
            assert "db down" in out["error"]
            assert len(server.requests) == 3

    @pytest.mark.parametrize(
        ("status", "code"),
        [(400, "validation"), (401, "auth"), (404, "not_found"), (409, "conflict")],
    )
    async def test_4xx_is_never_retried(
        self,
        app_for: Any,
        server_cls: Any,
        reply_cls: Any,
        body: Any,
        status: int,
        code: str,
    ) -> None:
        with server_cls(lambda r: reply_cls(status=status, body={"msg": "bad"})) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is False and out["error_code"] == code
            assert out["retryable"] is False
            assert len(server.requests) == 1

    async def test_rate_limit_carries_retry_after(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(lambda r: reply_cls(status=429, headers={"retry-after": "7"})) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["error_code"] == "rate_limited" and out["retryable"] is True
            assert out["retry_after_seconds"] == 7.0
            assert len(server.requests) == 1

    async def test_success_false_is_a_failure(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        reply = reply_cls(
            body={"success": False, "error": "card declined", "error_code": "conflict"}
        )
        with server_cls(lambda r: reply) as server:
            async with app_for(server) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is False and out["error"] == "card declined"
            assert out["error_code"] == "conflict"

    async def test_response_size_cap(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(lambda r: reply_cls(raw=b'{"x": "' + b"a" * 4000 + b'"}')) as server:
            async with app_for(server, http_max_response_bytes=1000) as api:
                await register(api, server)
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is False and out["error_code"] == "validation"
            assert "limit" in out["error"]

    async def test_output_schema_is_checked(
        self, app_for: Any, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(lambda r: reply_cls(body={"total": "ten"})) as server:
            async with app_for(server) as api:
                await register(
                    api,
                    server,
                    output_schema={"type": "object", "properties": {"total": {"type": "number"}}},
                )
                out = (await api.client.post("/execute", json=body("hooks/call"))).json()
            assert out["success"] is False and out["error_code"] == "validation"
            assert out["error_details"]["errors"][0]["pointer"] == "/total"

    async def test_host_resolving_to_internal_address_is_refused_at_run_time(
        self, app_factory: Any, database_url: str, server_cls: Any, body: Any
    ) -> None:
        with server_cls() as server:
            async with app_factory(database_url, ssrf_allowed_ports=[server.port]) as api:
                r = await api.client.post(
                    "/functions",
                    json={
                        "slug": "hooks/local",
                        "name": "Local",
                        "execution_type": "http",
                        "webhook_url": f"http://localhost:{server.port}/hook",
                    },
                )
                assert r.status_code == 201, r.text
                out = (await api.client.post("/execute", json=body("hooks/local"))).json()
            assert out["success"] is False and out["error_code"] == "forbidden"
            assert server.requests == []
