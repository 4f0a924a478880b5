from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from builder_bff.app import create_app
from builder_bff.settings import Settings

from ..conftest import BASE, Platform

pytestmark = pytest.mark.unit

SIGNED = {
    "content-type": "application/json",
    "x-wfb-timestamp": "1700000000",
    "x-wfb-signature": "sha256=abc123",
    "idempotency-key": "order-42",
}


def deployed(platform: Platform, wid: str = "wf1") -> None:
    platform.add_workflow(wid)
    platform.admin.workflows[wid]["status"] = "deployed"


class TestRelay:
    async def test_body_query_and_listed_headers_reach_admin_api_unchanged(
        self, platform: Platform
    ) -> None:
        deployed(platform)
        raw = b'{"b": 1,   "a": "\xc3\xa9"}'  # exact bytes: the signature is over them
        r = await platform.client.post(
            "/hooks/wf1?x=1&x=2&q=a%20b",
            content=raw,
            headers={
                **SIGNED,
                "authorization": "Bearer s3cret",
                "cookie": "wfb_session=stolen",
                "x-api-key": "wfb_key",
                "user-agent": "sender/1.0",
                "x-forwarded-for": "203.0.113.7",
            },
        )
        assert r.status_code == 202, r.text
        assert r.json() == {"instanceId": "wf1-run-1", "firingId": "f1"}
        assert r.headers["location"] == "/api/v2/workflows/wf1-run-1/status"
        [hook] = platform.admin.webhooks
        assert hook["workflowId"] == "wf1"
        assert hook["body"] == raw
        assert hook["query"] == "x=1&x=2&q=a%20b"
        sent = hook["headers"]
        for name, value in SIGNED.items():
            assert sent[name] == value
        assert sent["x-wfb-webhook-authorization"] == "Bearer s3cret"
        assert "authorization" not in sent  # never taken for the BFF's or a user's credentials
        assert sent["x-forwarded-for"].startswith("203.0.113.7, ")
        for dropped in ("cookie", "x-api-key"):
            assert dropped not in sent
        assert sent.get("user-agent") != "sender/1.0"
        assert sent["dapr-caller-app-id"] == "builder-bff"

    async def test_no_session_no_csrf_and_no_cookies_set(self, platform: Platform) -> None:
        deployed(platform)
        r = await platform.client.post("/hooks/wf1", json={"a": 1}, headers=SIGNED)
        assert r.status_code == 202
        assert "set-cookie" not in r.headers
        assert not platform.client.cookies

    async def test_an_empty_body_is_relayed_empty_without_an_invented_content_type(
        self, platform: Platform
    ) -> None:
        deployed(platform)
        r = await platform.client.post("/hooks/wf1")
        assert r.status_code == 202
        hook = platform.admin.webhooks[0]
        assert hook["body"] == b""
        assert "content-type" not in hook["headers"]

    @pytest.mark.parametrize(
        ("status", "body", "headers"),
        [
            (
                401,
                {"title": "Unauthorized", "status": 401, "detail": "signature mismatch"},
                {"WWW-Authenticate": 'WfbSignature realm="webhook"'},
            ),
            (
                422,
                {
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "the body does not match the input schema",
                    "errors": [{"field": "n", "message": "'n' is a required property"}],
                },
                {},
            ),
            (
                429,
                {"title": "Too Many Requests", "status": 429, "detail": "limit 60/min"},
                {"Retry-After": "17"},
            ),
            (415, {"title": "Unsupported Media Type", "status": 415, "detail": "JSON only"}, {}),
            (
                200,
                {"instanceId": "i1", "runtimeStatus": "COMPLETED", "result": {"ok": True}},
                {"Idempotent-Replayed": "true"},
            ),
            (503, {"title": "Service Unavailable", "status": 503, "detail": "busy"}, {}),
        ],
    )
    async def test_admin_api_answers_are_relayed_verbatim(
        self,
        platform: Platform,
        status: int,
        body: dict[str, object],
        headers: dict[str, str],
    ) -> None:
        platform.admin.webhook_answer = (status, body, headers)
        r = await platform.client.post("/hooks/wf1", json={}, headers=SIGNED)
        assert r.status_code == status
        assert r.json() == body
        for name, value in headers.items():
            assert r.headers[name] == value
        expected = "application/problem+json" if status >= 400 else "application/json"
        assert r.headers["content-type"] == expected

    async def test_unknown_and_undeployed_workflows_are_the_same_404(
        self, platform: Platform
    ) -> None:
        platform.add_workflow("draft")
        unknown = await platform.client.post("/hooks/nope", json={}, headers=SIGNED)
        draft = await platform.client.post("/hooks/draft", json={}, headers=SIGNED)
        assert unknown.status_code == draft.status_code == 404
        assert unknown.json()["title"] == draft.json()["title"]

    async def test_ids_that_are_not_workflow_ids_never_leave_the_bff(
        self, platform: Platform
    ) -> None:
        for path in ("/hooks/a%20b", "/hooks/-x", "/hooks/" + "x" * 201):
            r = await platform.client.post(path, json={})
            assert r.status_code == 404, path
        r = await platform.client.post("/hooks/..%2Fapi%2Fv1%2Fauth", json={})
        assert r.status_code == 405  # not the webhook route at all
        assert platform.admin.webhooks == []

    async def test_only_post(self, platform: Platform) -> None:
        r = await platform.client.get("/hooks/wf1")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert r.headers["content-type"] == "application/problem+json"
        assert (await platform.client.get("/hooks/wf1/deeper")).status_code == 404


class TestBodyLimit:
    async def test_declared_length_over_the_limit_is_413_before_reading(
        self, platform: Platform
    ) -> None:
        platform.app.state.bff.settings.webhook_max_body_bytes = 100
        r = await platform.client.post("/hooks/wf1", content=b"x" * 101, headers=SIGNED)
        assert r.status_code == 413
        assert "limit is 100" in r.json()["detail"]
        assert platform.admin.webhooks == []

    async def test_a_chunked_body_over_the_limit_is_413(self, platform: Platform) -> None:
        platform.app.state.bff.settings.webhook_max_body_bytes = 100

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 30

        r = await platform.client.post("/hooks/wf1", content=chunks(), headers=SIGNED)
        assert r.status_code == 413
        assert platform.admin.webhooks == []

    async def test_a_body_at_the_limit_passes(self, platform: Platform) -> None:
        deployed(platform)
        platform.app.state.bff.settings.webhook_max_body_bytes = 100
        r = await platform.client.post("/hooks/wf1", content=b"z" * 100, headers=SIGNED)
        assert r.status_code == 202
        assert platform.admin.webhooks[0]["body"] == b"z" * 100


class Failing(httpx.AsyncBaseTransport):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.exc


async def post_through(
    tmp_path: Path, transport: httpx.AsyncBaseTransport, **settings: object
) -> httpx.Response:
    app = create_app(
        Settings(data_dir=tmp_path, require_sidecar=False, ui_dir=tmp_path, **settings),
        transport=transport,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        return await client.post("/hooks/wf1", json={}, headers=SIGNED)


class TestAdminApiDown:
    async def test_sidecar_unreachable_is_503(self, tmp_path: Path) -> None:
        r = await post_through(tmp_path, Failing(httpx.ConnectError("refused")))
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert "admin-api is unreachable" in r.json()["detail"]

    async def test_no_answer_in_time_is_504(self, tmp_path: Path) -> None:
        r = await post_through(tmp_path, Failing(httpx.ReadTimeout("slow")))
        assert r.status_code == 504
        assert "admin-api did not answer in time" in r.json()["detail"]

    async def test_dapr_reporting_the_app_down_is_503_with_retry_after(
        self, platform: Platform
    ) -> None:
        platform.app.state.bff.settings.admin_app_id = "admin-api-gone"  # the sidecar's 500
        r = await platform.client.post("/hooks/wf1", json={}, headers=SIGNED)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json()["detail"].startswith("admin-api-gone is unavailable")

    async def test_a_crash_without_a_problem_body_is_502(self, tmp_path: Path) -> None:
        def crash(request: httpx.Request) -> httpx.Response:
            return httpx.Response(500, text="Internal Server Error")

        r = await post_through(tmp_path, httpx.MockTransport(crash))
        assert r.status_code == 502
        assert r.json()["upstream_status"] == 500
