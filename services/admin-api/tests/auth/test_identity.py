"""Sign-up, first-user bootstrap, sign-in protection (rate limits, lockout), signing-key
rotation, and refusing to start without a real key outside embedded mode."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from admin_api_testkit import PASSWORD, Api, database, fresh_service, make_settings, serve
from pydantic import ValidationError

from admin_api.app import create_app
from admin_api.auth.keys import rotate_key_file
from admin_api.ratelimit import MemoryRateLimiter, RedisRateLimiter
from admin_api.settings import Settings

pytestmark = pytest.mark.integration


async def register(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/v1/auth/register", json={"email": email, "password": password})


class TestBootstrap:
    async def test_first_user_owns_a_default_tenant_and_the_second_does_not(
        self, db_backend: str, tmp_path: Path
    ) -> None:
        with fresh_service(db_backend, tmp_path) as svc:
            async with httpx.AsyncClient(base_url=svc.url) as http:
                first = await register(http, "first@example.com")
                second = await register(http, "second@example.com")
                assert first.status_code == 201 and second.status_code == 201
                project = first.json()["defaultProjectId"]
                assert project and second.json()["defaultProjectId"] is None
                tokens = (
                    await http.post(
                        "/api/v1/auth/login",
                        json={"email": "first@example.com", "password": PASSWORD},
                    )
                ).json()
                auth = {"authorization": f"Bearer {tokens['accessToken']}"}
                me = (await http.get("/api/v1/auth/me", headers=auth)).json()
                assert {(m["scopeType"], m["role"]) for m in me["memberships"]} == {
                    ("company", "owner")
                }
                projects = (await http.get("/api/v1/projects", headers=auth)).json()["items"]
                assert [p["id"] for p in projects] == [project] and projects[0]["slug"] == "default"
                other = (
                    await http.post(
                        "/api/v1/auth/login",
                        json={"email": "second@example.com", "password": PASSWORD},
                    )
                ).json()
                r = await http.get(
                    f"/api/v1/projects/{project}",
                    headers={"authorization": f"Bearer {other['accessToken']}"},
                )
                assert r.status_code == 404


class TestRegisterAndLogin:
    async def test_register_validates_and_refuses_duplicates(self, api: Api) -> None:
        email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
        assert (await register(api.http, email)).status_code == 201
        again = await register(api.http, email.upper())
        assert again.status_code == 409
        assert (await register(api.http, "not-an-email")).status_code == 422
        short = await register(api.http, f"s-{uuid.uuid4().hex[:6]}@example.com", "short")
        assert short.status_code == 422 and "password" in short.text

    async def test_passwords_are_argon2_hashes(self, api: Api) -> None:
        from sqlalchemy import create_engine, text

        from service_kit.db import sync_url

        user = await api.user()
        engine = create_engine(sync_url(api.service.settings.resolved_database_url()))
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT password_hash FROM users WHERE id = :id"), {"id": user.id}
            ).scalar_one()
        engine.dispose()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored

    async def test_wrong_password_and_unknown_account_look_the_same(self, api: Api) -> None:
        user = await api.user()
        wrong = await api.http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": "nope nope nope"}
        )
        unknown = await api.http.post(
            "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"]

    async def test_login_events_are_audited(self, api: Api) -> None:
        user = await api.user()
        await api.http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": "wrong password"}
        )
        events = (await user.get("/api/v1/auth/events", params={"action": "auth.login"})).json()[
            "items"
        ]
        assert [e["success"] for e in events] == [False, True]
        assert events[0]["detail"]["reason"] == "bad credentials" and events[0]["ip"] == "127.0.0.1"


class TestSignInProtection:
    async def test_lockout_after_repeated_failures(self, tmp_path: Path) -> None:
        with fresh_service("sqlite", tmp_path, lockout_threshold=3, lockout_s=600) as svc:
            async with httpx.AsyncClient(base_url=svc.url) as http:
                await register(http, "lock@example.com")
                for _ in range(3):
                    r = await http.post(
                        "/api/v1/auth/login",
                        json={"email": "lock@example.com", "password": "wrong password"},
                    )
                    assert r.status_code == 401
                locked = await http.post(
                    "/api/v1/auth/login", json={"email": "lock@example.com", "password": PASSWORD}
                )
                assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 500

    async def test_per_account_and_per_ip_limits(self, tmp_path: Path) -> None:
        with fresh_service(
            "sqlite",
            tmp_path,
            login_limit_per_account=2,
            login_limit_per_ip=5,
            register_limit_per_ip=3,
            lockout_threshold=100,
        ) as svc:
            async with httpx.AsyncClient(base_url=svc.url) as http:
                statuses = [
                    (await register(http, f"r{i}@example.com")).status_code for i in range(4)
                ]
                assert statuses == [201, 201, 201, 429]
                account = [
                    (
                        await http.post(
                            "/api/v1/auth/login",
                            json={"email": "r0@example.com", "password": "bad password"},
                        )
                    ).status_code
                    for _ in range(3)
                ]
                assert account == [401, 401, 429]
                others = [
                    (
                        await http.post(
                            "/api/v1/auth/login",
                            json={"email": f"x{i}@example.com", "password": "bad password"},
                        )
                    ).status_code
                    for i in range(3)
                ]
                assert others == [401, 401, 429]  # 5 attempts from this address in the window

    async def test_limits_are_shared_through_redis_across_replicas(self, tmp_path: Path) -> None:
        prefix = f"test:{uuid.uuid4().hex}:"
        limits = {
            "redis_url": "redis://127.0.0.1:6379/0",
            "redis_key_prefix": prefix,
            "login_limit_per_account": 3,
            "lockout_threshold": 100,
        }
        with (
            database("sqlite", tmp_path) as db,
            serve(create_app(make_settings(db, tmp_path, "", **limits))) as one,
            serve(create_app(make_settings(db, tmp_path, "", **limits))) as two,
        ):
            statuses = []
            for base in (one, two, one, two):
                async with httpx.AsyncClient(base_url=base) as http:
                    r = await http.post(
                        "/api/v1/auth/login",
                        json={"email": "shared@example.com", "password": "bad password"},
                    )
                    statuses.append(r.status_code)
        assert statuses == [401, 401, 401, 429]  # the two replicas count together

    async def test_redis_limiter_shares_counts(self) -> None:
        prefix = f"test:{uuid.uuid4().hex}:"
        a = RedisRateLimiter.from_url("redis://127.0.0.1:6379/0", prefix)
        b = RedisRateLimiter.from_url("redis://127.0.0.1:6379/0", prefix)
        try:
            hits = [
                await a.hit("k", 3, 60),
                await b.hit("k", 3, 60),
                await a.hit("k", 3, 60),
                await b.hit("k", 3, 60),
            ]
            assert [h.allowed for h in hits] == [True, True, True, False]
            assert 0 < hits[-1].retry_after_s <= 60
            await a.reset("k")
            assert (await b.hit("k", 3, 60)).allowed
        finally:
            await a.reset("k")
            await a.close()
            await b.close()

    async def test_memory_limiter_window_resets(self) -> None:
        now = [0.0]
        limiter = MemoryRateLimiter(clock=lambda: now[0])
        assert [(await limiter.hit("k", 1, 10)).allowed for _ in range(2)] == [True, False]
        now[0] = 10.5
        assert (await limiter.hit("k", 1, 10)).allowed


class TestSigningKeys:
    async def test_rotation_keeps_old_tokens_valid_and_publishes_both_keys(
        self, db_backend: str, tmp_path: Path
    ) -> None:
        with database(db_backend, tmp_path) as db:
            settings = make_settings(db, tmp_path, "")
            with serve(create_app(settings)) as url:
                async with httpx.AsyncClient(base_url=url) as http:
                    await register(http, "rot@example.com")
                    old = (
                        await http.post(
                            "/api/v1/auth/login",
                            json={"email": "rot@example.com", "password": PASSWORD},
                        )
                    ).json()
            rotate_key_file(settings)  # the embedded-mode CLI: admin-api rotate-signing-key
            retired = [p.name for p in (tmp_path / "admin-api").iterdir()]
            assert len([n for n in retired if ".retired-" in n]) == 1
            with serve(create_app(settings)) as url:
                async with httpx.AsyncClient(base_url=url) as http:
                    kids = [
                        k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]
                    ]
                    new = (
                        await http.post(
                            "/api/v1/auth/login",
                            json={"email": "rot@example.com", "password": PASSWORD},
                        )
                    ).json()
                    old_kid = jwt.get_unverified_header(old["accessToken"])["kid"]
                    new_kid = jwt.get_unverified_header(new["accessToken"])["kid"]
                    assert old_kid != new_kid and kids == [new_kid, old_kid]
                    for token in (old["accessToken"], new["accessToken"]):
                        r = await http.get(
                            "/api/v1/auth/me", headers={"authorization": f"Bearer {token}"}
                        )
                        assert r.status_code == 200
            # once the grace period is over the old key is no longer published
            late = make_settings(db, tmp_path, "", retired_key_grace_s=900, access_token_ttl_s=900)
            app = create_app(late)
            async with app.router.lifespan_context(app):
                from datetime import timedelta

                from admin_api.db import utcnow

                async with app.state.sessions() as session:
                    jwks = await app.state.keyring.jwks(
                        session, now=utcnow() + timedelta(seconds=901)
                    )
            assert [k["kid"] for k in jwks["keys"]] == [new_kid]

    def test_refuses_to_start_without_a_key_outside_embedded_mode(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="signing key"):
            Settings(mode="kubernetes", data_dir=tmp_path)
        from admin_api.app import create_app

        with pytest.raises(ValueError, match="does not exist"):
            create_app(
                Settings(
                    mode="kubernetes",
                    data_dir=tmp_path,
                    jwt_private_key_file=tmp_path / "missing.pem",
                )
            )

    def test_refuses_a_key_of_the_wrong_type(self, tmp_path: Path) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from admin_api.app import create_app
        from admin_api.auth.keys import private_key_pem

        pem = private_key_pem(Ed25519PrivateKey.generate()).decode()
        with pytest.raises(ValueError, match="RS256"):
            create_app(Settings(data_dir=tmp_path, jwt_algorithm="RS256", jwt_private_key=pem))

    async def test_rs256_is_supported(self, tmp_path: Path) -> None:
        with fresh_service("sqlite", tmp_path, jwt_algorithm="RS256") as svc:
            async with httpx.AsyncClient(base_url=svc.url) as http:
                await register(http, "rsa@example.com")
                tokens = (
                    await http.post(
                        "/api/v1/auth/login",
                        json={"email": "rsa@example.com", "password": PASSWORD},
                    )
                ).json()
                assert jwt.get_unverified_header(tokens["accessToken"])["alg"] == "RS256"
                jwks = (await http.get("/.well-known/jwks.json")).json()
                assert jwks["keys"][0]["kty"] == "RSA"
                r = await http.get(
                    "/api/v1/auth/me", headers={"authorization": f"Bearer {tokens['accessToken']}"}
                )
                assert r.status_code == 200
