from __future__ import annotations

import asyncio

import pytest

from ..conftest import Platform

pytestmark = pytest.mark.unit


class TestLogin:
    async def test_register_logs_in_with_httponly_cookies(self, platform: Platform) -> None:
        await platform.client.get("/api/auth/session")
        r = await platform.client.post(
            "/api/auth/register",
            json={"email": "ada@example.com", "password": "pw-123456"},
            headers=platform.csrf(),
        )
        assert r.status_code == 201
        assert r.json()["user"]["email"] == "ada@example.com"
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("wfb_session="))
        refresh = next(c for c in cookies if c.startswith("wfb_refresh="))
        assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/api" in session
        assert "HttpOnly" in refresh and "SameSite=Strict" in refresh
        assert "access_token" not in r.text and "refresh_token" not in r.text
        probe = (await platform.client.get("/api/auth/session")).json()
        assert probe["authenticated"] is True and probe["user"]["email"] == "ada@example.com"
        assert probe["csrfToken"] == platform.client.cookies.get("wfb_csrf")

    async def test_wrong_password_passes_the_problem_through(self, platform: Platform) -> None:
        await platform.login()
        platform.client.cookies.delete("wfb_session", path="/api")
        r = await platform.client.post(
            "/api/auth/login",
            json={"email": "ada@example.com", "password": "wrong"},
            headers=platform.csrf(),
        )
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == "wrong email or password"

    async def test_duplicate_registration_is_409(self, platform: Platform) -> None:
        await platform.login()
        r = await platform.client.post(
            "/api/auth/register",
            json={"email": "ada@example.com", "password": "x"},
            headers=platform.csrf(),
        )
        assert r.status_code == 409

    async def test_login_body_is_validated(self, platform: Platform) -> None:
        await platform.client.get("/api/auth/session")
        r = await platform.client.post(
            "/api/auth/login",
            json={"email": "a@b.c", "password": "x", "role": "owner"},
            headers=platform.csrf(),
        )
        assert r.status_code == 422

    async def test_secure_cookies_outside_embedded_mode(self, platform: Platform) -> None:
        platform.app.state.bff.settings.cookie_secure = True
        await platform.client.get("/api/auth/session")
        r = await platform.client.post(
            "/api/auth/register",
            json={"email": "bo@example.com", "password": "pw"},
            headers=platform.csrf(),
        )
        assert all(
            "Secure" in c for c in r.headers.get_list("set-cookie") if c.startswith("wfb_session")
        )

    async def test_anonymous_calls_are_401(self, platform: Platform) -> None:
        r = await platform.client.get("/api/tenants")
        assert r.status_code == 401
        assert (await platform.client.get("/api/auth/session")).json()["authenticated"] is False


class TestLogout:
    async def test_logout_revokes_the_refresh_token_and_clears_cookies(
        self, platform: Platform
    ) -> None:
        await platform.login()
        refresh = platform.client.cookies.get("wfb_refresh")
        assert refresh in platform.admin.refresh
        r = await platform.client.post("/api/auth/logout", headers=platform.csrf())
        assert r.status_code == 204
        assert refresh not in platform.admin.refresh
        cleared = [
            c
            for c in r.headers.get_list("set-cookie")
            if c.startswith(("wfb_session=", "wfb_refresh="))
        ]
        assert len(cleared) == 2 and all("Max-Age=0" in c for c in cleared)
        assert (await platform.client.get("/api/tenants")).status_code == 401


class TestCsrf:
    async def test_state_changing_requests_need_the_token(self, platform: Platform) -> None:
        await platform.login()
        good = platform.csrf()
        no_header = await platform.client.post("/api/validate", json={"definition": {}})
        assert no_header.status_code == 403 and "CSRF" in no_header.json()["detail"]
        wrong = await platform.client.post(
            "/api/validate", json={"definition": {}}, headers={"X-CSRF-Token": "forged"}
        )
        assert wrong.status_code == 403
        ok = await platform.client.post("/api/validate", json={"definition": {}}, headers=good)
        assert ok.status_code == 200

    async def test_cross_origin_requests_are_refused_even_with_a_token(
        self, platform: Platform
    ) -> None:
        await platform.login()
        headers = {**platform.csrf(), "Origin": "https://evil.example"}
        r = await platform.client.post("/api/validate", json={"definition": {}}, headers=headers)
        assert r.status_code == 403 and "evil.example" in r.json()["detail"]
        same = {**platform.csrf(), "Origin": "http://bff.test"}
        assert (
            await platform.client.post("/api/validate", json={"definition": {}}, headers=same)
        ).status_code == 200
        referer = {**platform.csrf(), "Referer": "https://evil.example/page"}
        assert (
            await platform.client.post("/api/validate", json={"definition": {}}, headers=referer)
        ).status_code == 403

    async def test_allowed_origins_are_configurable(self, platform: Platform) -> None:
        await platform.login()
        middleware = platform.app.middleware_stack
        while not hasattr(middleware, "allowed"):
            middleware = middleware.app
        middleware.allowed.add("https://builder.example")
        headers = {**platform.csrf(), "Origin": "https://builder.example"}
        assert (
            await platform.client.post("/api/validate", json={"definition": {}}, headers=headers)
        ).status_code == 200

    async def test_reads_need_no_token(self, platform: Platform) -> None:
        await platform.login()
        assert (await platform.client.get("/api/tenants")).status_code == 200

    async def test_oversized_bodies_are_refused(self, platform: Platform) -> None:
        await platform.login()
        platform.app.state.bff.settings.max_body_bytes = 10
        big = {"definition": {"x": "y" * 5000}}
        middleware = platform.app.middleware_stack
        while not hasattr(middleware, "max_body_bytes"):
            middleware = middleware.app
        middleware.max_body_bytes = 100
        r = await platform.client.post("/api/validate", json=big, headers=platform.csrf())
        assert r.status_code == 413


class TestRefresh:
    async def test_expired_access_token_is_refreshed_transparently(
        self, platform: Platform
    ) -> None:
        platform.admin.access_ttl = 1  # within the refresh margin: every token "expires soon"
        await platform.login()
        old_refresh = platform.client.cookies.get("wfb_refresh")
        r = await platform.client.get("/api/tenants")
        assert r.status_code == 200
        assert platform.admin.refresh_calls == 1
        assert platform.client.cookies.get("wfb_refresh") != old_refresh
        assert any(c.startswith("wfb_session=") for c in r.headers.get_list("set-cookie"))

    async def test_concurrent_requests_share_one_refresh(self, platform: Platform) -> None:
        platform.admin.access_ttl = 1
        await platform.login()
        results = await asyncio.gather(*(platform.client.get("/api/tenants") for _ in range(8)))
        assert [r.status_code for r in results] == [200] * 8
        assert platform.admin.refresh_calls == 1

    async def test_a_401_from_upstream_triggers_one_refresh_and_retry(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.admin.access.clear()  # admin-api forgot the access token (e.g. key rotation)
        r = await platform.client.get("/api/tenants")
        assert r.status_code == 200
        assert platform.admin.refresh_calls == 1

    async def test_revoked_session_is_401_and_cookies_are_cleared(self, platform: Platform) -> None:
        await platform.login()
        platform.admin.access.clear()
        platform.admin.refresh.clear()
        r = await platform.client.get("/api/tenants")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert any(
            c.startswith("wfb_refresh=") and "Max-Age=0" in c
            for c in r.headers.get_list("set-cookie")
        )
