"""Access tokens and refresh tokens against the running service: forged, expired,
misdirected and tampered tokens are refused; refresh tokens rotate and reuse revokes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from admin_api_testkit import Api
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from admin_api.auth.keys import load_private_key

pytestmark = pytest.mark.integration


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def real_key(api: Api) -> Any:
    path = api.service.settings.signing_key_path()
    return load_private_key(path.read_bytes(), "EdDSA")


async def claims_and_kid(api: Api, token: str) -> tuple[dict[str, Any], str]:
    header = jwt.get_unverified_header(token)
    return jwt.decode(token, options={"verify_signature": False}), header["kid"]


async def me(api: Api, token: str) -> httpx.Response:
    return await api.http.get("/api/v1/auth/me", headers={"authorization": f"Bearer {token}"})


class TestAccessTokens:
    async def test_a_valid_token_works_and_carries_the_required_claims(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        assert {"iss", "aud", "exp", "iat", "sub"} <= claims.keys()
        assert claims["sub"] == user.id and claims["aud"] == "workflow-builder"
        jwks = (await api.http.get("/.well-known/jwks.json")).json()
        assert kid in [k["kid"] for k in jwks["keys"]]
        assert all("d" not in k for k in jwks["keys"])  # never a private part
        assert (await me(api, user.tokens["accessToken"])).json()["user"]["id"] == user.id

    async def test_alg_none_is_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        forged = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims)}."
        r = await me(api, forged)
        assert r.status_code == 401 and "none" in r.json()["detail"]

    async def test_hs256_with_the_public_key_as_secret_is_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        jwks = (await api.http.get("/.well-known/jwks.json")).json()
        forged = jwt.encode(
            claims, json.dumps(jwks["keys"][0]) * 2, algorithm="HS256", headers={"kid": kid}
        )
        assert (await me(api, forged)).status_code == 401

    async def test_wrong_key_is_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        forged = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        )
        r = await me(api, forged)
        assert r.status_code == 401 and "invalid" in r.json()["detail"]

    async def test_unknown_kid_is_refused(self, api: Api) -> None:
        user = await api.user()
        claims, _ = await claims_and_kid(api, user.tokens["accessToken"])
        forged = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "nope"}
        )
        assert (await me(api, forged)).status_code == 401

    async def test_expired_token_is_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        now = int(time.time())
        expired = jwt.encode(
            {**claims, "iat": now - 3600, "exp": now - 120},
            real_key(api),
            algorithm="EdDSA",
            headers={"kid": kid},
        )
        r = await me(api, expired)
        assert r.status_code == 401 and "expired" in r.json()["detail"]

    async def test_wrong_audience_and_issuer_are_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        for change in ({"aud": "another-system"}, {"iss": "someone-else"}):
            token = jwt.encode(
                {**claims, **change}, real_key(api), algorithm="EdDSA", headers={"kid": kid}
            )
            assert (await me(api, token)).status_code == 401

    async def test_missing_required_claims_are_refused(self, api: Api) -> None:
        user = await api.user()
        claims, kid = await claims_and_kid(api, user.tokens["accessToken"])
        for claim in ("exp", "iat", "sub", "aud", "iss"):
            partial = {k: v for k, v in claims.items() if k != claim}
            token = jwt.encode(partial, real_key(api), algorithm="EdDSA", headers={"kid": kid})
            r = await me(api, token)
            assert r.status_code == 401, claim

    async def test_tampered_payload_is_refused(self, api: Api) -> None:
        victim, mallory = await api.user("victim"), await api.user("mallory")
        header, payload, signature = mallory.tokens["accessToken"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        tampered = f"{header}.{b64({**claims, 'sub': victim.id})}.{signature}"
        r = await me(api, tampered)
        assert r.status_code == 401 and victim.id not in r.text

    async def test_garbage_and_wrong_schemes(self, api: Api) -> None:
        for header in ("Bearer", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000):
            r = await api.http.get("/api/v1/auth/me", headers={"authorization": header})
            assert r.status_code == 401, header
            assert r.headers["www-authenticate"] == "Bearer"


class TestRefreshTokens:
    async def test_rotation_on_every_use(self, api: Api) -> None:
        user = await api.user()
        first = user.tokens["refreshToken"]
        r1 = await api.http.post("/api/v1/auth/refresh", json={"refreshToken": first})
        assert r1.status_code == 200
        second = r1.json()["refreshToken"]
        assert second != first and (await me(api, r1.json()["accessToken"])).status_code == 200
        r2 = await api.http.post("/api/v1/auth/refresh", json={"refreshToken": second})
        assert r2.status_code == 200

    async def test_reuse_of_a_rotated_token_revokes_the_whole_family(self, api: Api) -> None:
        user = await api.user()
        stolen = user.tokens["refreshToken"]
        rotated = (
            await api.http.post("/api/v1/auth/refresh", json={"refreshToken": stolen})
        ).json()
        reuse = await api.http.post("/api/v1/auth/refresh", json={"refreshToken": stolen})
        assert reuse.status_code == 401 and "revoked" in reuse.json()["detail"]
        # the legitimate holder's newer token is dead too
        after = await api.http.post(
            "/api/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]}
        )
        assert after.status_code == 401
        # a separate sign-in is a separate family and keeps working
        other = await api.login(user.email)
        assert (
            await api.http.post(
                "/api/v1/auth/refresh", json={"refreshToken": other["refreshToken"]}
            )
        ).status_code == 200
        events = await api.http.get(
            "/api/v1/auth/events",
            headers={"authorization": f"Bearer {other['accessToken']}"},
            params={"action": "auth.refresh_reuse"},
        )
        assert events.status_code == 200
        # both the stolen token and the (now revoked) rotated one were presented
        assert [e["success"] for e in events.json()["items"]] == [False, False]

    async def test_logout_revokes_the_family(self, api: Api) -> None:
        user = await api.user()
        token = user.tokens["refreshToken"]
        rotated = (await api.http.post("/api/v1/auth/refresh", json={"refreshToken": token})).json()
        assert (
            await api.http.post(
                "/api/v1/auth/logout", json={"refreshToken": rotated["refreshToken"]}
            )
        ).status_code == 204
        r = await api.http.post(
            "/api/v1/auth/refresh", json={"refreshToken": rotated["refreshToken"]}
        )
        assert r.status_code == 401
        # unknown tokens: same answer, no oracle
        assert (
            await api.http.post("/api/v1/auth/logout", json={"refreshToken": "wfr_nothing"})
        ).status_code == 204

    async def test_unknown_and_access_tokens_are_not_refresh_tokens(self, api: Api) -> None:
        user = await api.user()
        for token in ("wfr_made_up", user.tokens["accessToken"][:200]):
            r = await api.http.post("/api/v1/auth/refresh", json={"refreshToken": token})
            assert r.status_code == 401

    async def test_refresh_tokens_are_stored_hashed(self, api: Api) -> None:
        from sqlalchemy import create_engine, text

        from service_kit.db import sync_url

        user = await api.user()
        engine = create_engine(sync_url(api.service.settings.resolved_database_url()))
        with engine.connect() as conn:
            stored = [r[0] for r in conn.execute(text("SELECT token_hash FROM refresh_tokens"))]
        engine.dispose()
        assert user.tokens["refreshToken"] not in stored
        import hashlib

        assert hashlib.sha256(user.tokens["refreshToken"].encode()).hexdigest() in stored


async def test_concurrent_use_of_one_refresh_token_counts_as_reuse(api: Api) -> None:
    import asyncio

    user = await api.user()
    token = user.tokens["refreshToken"]
    results = await asyncio.gather(
        *(api.http.post("/api/v1/auth/refresh", json={"refreshToken": token}) for _ in range(2))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 401], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    # the reuse revoked the family, including the token the winner just received
    again = await api.http.post(
        "/api/v1/auth/refresh", json={"refreshToken": winner["refreshToken"]}
    )
    assert again.status_code == 401
