from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from fastapi import APIRouter, Depends, FastAPI

from service_kit import ServiceSettings, build_app
from service_kit.auth import (
    Authenticator,
    AuthError,
    AuthorizationClient,
    IntrospectionClient,
    JwksSource,
    JwtVerifier,
    Principal,
    TtlCache,
    check_dapr_caller,
    dapr_caller_dependency,
    dapr_invoke_url,
    dev_token_guard,
    principal_dependency,
)
from service_kit.problems import Forbidden, Unauthorized

pytestmark = pytest.mark.unit

ISS, AUD = "admin-api", "workflow-builder"


class Keys:
    def __init__(self, kid: str = "k1") -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        self.jwk = {
            **json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key())),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def sign(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "u1", "iat": now, "exp": now + 60}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})


class FakeJwks:
    """A JWKS document whose keys can change, counting fetches."""

    def __init__(self, *keys: Keys) -> None:
        self.keys = list(keys)
        self.fetches = 0

    def source(self) -> JwksSource:
        async def load() -> dict[str, Any]:
            self.fetches += 1
            return {"keys": [k.jwk for k in self.keys]}

        return JwksSource(load)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(jwks: FakeJwks, clock: Callable[[], float] = time.monotonic) -> JwtVerifier:
    return JwtVerifier(jwks.source(), issuer=ISS, audience=AUD, clock=clock, leeway_s=5)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TestJwtVerifier:
    async def test_valid_token_gives_claims(self) -> None:
        keys = Keys()
        claims = await verifier(FakeJwks(keys)).verify(keys.sign(sub="alice"))
        assert claims["sub"] == "alice"

    async def test_alg_none_is_refused(self) -> None:
        keys = Keys()
        now = int(time.time())
        payload = {"iss": ISS, "aud": AUD, "sub": "u", "iat": now, "exp": now + 60}
        token = f"{b64({'alg': 'none', 'kid': 'k1'})}.{b64(payload)}."
        with pytest.raises(AuthError, match="algorithm 'none'"):
            await verifier(FakeJwks(keys)).verify(token)

    async def test_other_algorithm_is_refused_even_with_a_known_key(self) -> None:
        keys = Keys()
        secret = "x" * 64
        token = jwt.encode(
            {"iss": ISS, "aud": AUD, "sub": "u", "iat": 1, "exp": time.time() + 60},
            secret,
            algorithm="HS256",
            headers={"kid": "k1"},
        )
        with pytest.raises(AuthError, match="HS256"):
            await verifier(FakeJwks(keys)).verify(token)

    async def test_wrong_key_is_refused(self) -> None:
        published, attacker = Keys("k1"), Keys("k1")
        with pytest.raises(AuthError, match="invalid"):
            await verifier(FakeJwks(published)).verify(attacker.sign())

    async def test_tampered_payload_is_refused(self) -> None:
        keys = Keys()
        header, _, signature = keys.sign(sub="alice").split(".")
        now = int(time.time())
        forged = b64({"iss": ISS, "aud": AUD, "sub": "admin", "iat": now, "exp": now + 60})
        with pytest.raises(AuthError, match="invalid"):
            await verifier(FakeJwks(keys)).verify(f"{header}.{forged}.{signature}")

    async def test_expired_token_is_refused_beyond_the_leeway(self) -> None:
        keys = Keys()
        now = int(time.time())
        v = verifier(FakeJwks(keys))
        assert await v.verify(keys.sign(exp=now - 2))  # within 5 s of skew
        with pytest.raises(AuthError, match="expired"):
            await v.verify(keys.sign(exp=now - 60))

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"aud": "someone-else"}, "audience"),
            ({"iss": "evil"}, "issuer"),
            ({"iat": None}, "'iat'"),
            ({"exp": None}, "'exp'"),
            ({"sub": None}, "'sub'"),
            ({"aud": None}, "'aud'"),
        ],
    )
    async def test_required_claims_and_values(
        self, overrides: dict[str, Any], message: str
    ) -> None:
        keys = Keys()
        with pytest.raises(AuthError, match=message):
            await verifier(FakeJwks(keys)).verify(keys.sign(**overrides))

    async def test_missing_kid_and_garbage(self) -> None:
        keys = Keys()
        no_kid = jwt.encode(
            {"iss": ISS, "aud": AUD, "sub": "u", "iat": 1, "exp": time.time() + 60},
            keys.private,
            algorithm="EdDSA",
        )
        v = verifier(FakeJwks(keys))
        with pytest.raises(AuthError, match="kid"):
            await v.verify(no_kid)
        with pytest.raises(AuthError, match="malformed"):
            await v.verify("not.a.jwt")

    async def test_unknown_kid_refreshes_once_then_uses_the_new_key(self) -> None:
        old, new = Keys("old"), Keys("new")
        jwks, clock = FakeJwks(old), Clock()
        v = verifier(jwks, clock)
        await v.verify(old.sign())
        await v.verify(old.sign())
        assert jwks.fetches == 1
        jwks.keys.append(new)  # rotation: the issuer publishes a new key
        clock.now += 11
        assert (await v.verify(new.sign()))["sub"] == "u1"
        assert jwks.fetches == 2

    async def test_unknown_kid_refresh_is_rate_limited(self) -> None:
        keys, jwks, clock = Keys(), FakeJwks(), Clock()
        jwks.keys.append(keys)
        v = verifier(jwks, clock)
        await v.verify(keys.sign())
        for _ in range(5):
            with pytest.raises(AuthError, match="unknown key"):
                await v.verify(Keys("bogus").sign())
        assert jwks.fetches == 1

    async def test_cache_expires(self) -> None:
        keys, clock = Keys(), Clock()
        jwks = FakeJwks(keys)
        v = verifier(jwks, clock)
        await v.verify(keys.sign())
        clock.now += 301
        await v.verify(keys.sign())
        assert jwks.fetches == 2

    async def test_rs256_keys_with_rs256_pin(self) -> None:
        private = generate_private_key(public_exponent=65537, key_size=2048)
        jwk = {
            **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key())),
            "kid": "r1",
            "alg": "RS256",
        }
        now = int(time.time())
        token = jwt.encode(
            {"iss": ISS, "aud": AUD, "sub": "u", "iat": now, "exp": now + 60},
            private,
            algorithm="RS256",
            headers={"kid": "r1"},
        )
        v = JwtVerifier(
            JwksSource.static({"keys": [jwk]}), issuer=ISS, audience=AUD, algorithm="RS256"
        )
        assert (await v.verify(token))["sub"] == "u"
        eddsa = JwtVerifier(JwksSource.static({"keys": [jwk]}), issuer=ISS, audience=AUD)
        with pytest.raises(AuthError, match="RS256"):
            await eddsa.verify(token)

    async def test_jwks_over_http(self) -> None:
        keys = Keys()
        app = FastAPI()

        @app.get("/.well-known/jwks.json")
        async def jwks() -> dict[str, Any]:
            return {"keys": [keys.jwk]}

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            source = JwksSource.http("http://admin/.well-known/jwks.json", client)
            v = JwtVerifier(source, issuer=ISS, audience=AUD)
            assert (await v.verify(keys.sign()))["sub"] == "u1"
            broken = JwksSource.http("http://admin/missing", client)
            with pytest.raises(Exception, match="404"):
                await JwtVerifier(broken, issuer=ISS, audience=AUD).verify(keys.sign())


class IdentityStub:
    """A loopback identity service answering introspection and authz checks."""

    def __init__(self) -> None:
        self.calls = 0
        self.active: dict[str, dict[str, Any]] = {}
        self.app = FastAPI()

        @self.app.post("/introspect")
        async def introspect(body: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            return self.active.get(body["token"], {"active": False})

        @self.app.post("/check")
        async def check(body: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            allowed = body["token"] in self.active and body["action"] == "workflow.read"
            return {"allowed": allowed, "role": "viewer", "tenant": {"projectId": "p1"}}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://id")


class TestIntrospectionAndAuthz:
    async def test_introspection_caches_positive_and_negative_answers(self) -> None:
        stub, clock = IdentityStub(), Clock()
        stub.active["key1"] = {
            "active": True,
            "sub": "k1",
            "kind": "api_key",
            "projectId": "p1",
            "role": "editor",
        }
        async with stub.client() as http:
            client = IntrospectionClient("http://id/introspect", http, clock=clock)
            first = await client.introspect("key1")
            assert first.active and first.project_id == "p1" and first.role == "editor"
            await client.introspect("key1")
            assert stub.calls == 1
            assert not (await client.introspect("nope")).active
            await client.introspect("nope")
            assert stub.calls == 2
            clock.now += 6  # negative answers expire first
            await client.introspect("nope")
            await client.introspect("key1")
            assert stub.calls == 3
            clock.now += 30
            await client.introspect("key1")
            assert stub.calls == 4

    async def test_cache_never_outlives_the_token(self) -> None:
        stub, clock = IdentityStub(), Clock()
        stub.active["t"] = {"active": True, "sub": "u", "kind": "user", "exp": int(time.time()) - 1}
        async with stub.client() as http:
            client = IntrospectionClient("http://id/introspect", http, clock=clock)
            await client.introspect("t")
            await client.introspect("t")
        assert stub.calls == 2

    async def test_unreachable_identity_service_is_503(self) -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse)) as http:
            client = IntrospectionClient("http://id/introspect", http)
            with pytest.raises(Exception, match="unreachable") as info:
                await client.introspect("t")
        assert getattr(info.value, "status", None) == 503

    async def test_authorization_client_caches_decisions(self) -> None:
        stub = IdentityStub()
        stub.active["t"] = {"active": True}
        async with stub.client() as http:
            client = AuthorizationClient("http://id/check", http)
            decision = await client.check("t", "project", "p1", "workflow.read")
            assert decision.allowed and decision.tenant and decision.tenant.project_id == "p1"
            await client.check("t", "project", "p1", "workflow.read")
            assert stub.calls == 1
            assert not (await client.check("t", "project", "p1", "workflow.deploy")).allowed
            assert stub.calls == 2


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


class TestTtlCache:
    def test_lru_bound_and_expiry(self) -> None:
        clock = Clock()
        cache: TtlCache[int] = TtlCache(max_entries=2, clock=clock)
        cache.put("a", 1, 10)
        cache.put("b", 2, 10)
        cache.get("a")
        cache.put("c", 3, 10)
        assert cache.get("b") is None and cache.get("a") == 1
        clock.now += 11
        assert cache.get("a") is None
        cache.put("z", 1, 0)
        assert cache.get("z") is None


CurrentPrincipal = Annotated[Principal, Depends(principal_dependency())]
DaprCaller = Annotated[
    str, Depends(dapr_caller_dependency(["builder-bff"], lambda r: r.app.state.app_api_token))
]


def protected_app(authenticator: Authenticator, api_token: str | None = None) -> FastAPI:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"sub": principal.sub, "kind": principal.kind, "project": principal.project_id}

    @router.get("/internal")
    async def internal(app_id: DaprCaller) -> dict[str, str]:
        return {"caller": app_id}

    app = build_app(
        service="t",
        title="t",
        version="0",
        settings=ServiceSettings(require_sidecar=False),
        routers=[router],
    )
    app.state.authenticator = authenticator
    app.state.app_api_token = api_token
    return app


class TestPrincipalDependency:
    async def test_jwt_api_key_missing_and_bad_credentials(self) -> None:
        keys, stub = Keys(), IdentityStub()
        stub.active["wfb_key"] = {
            "active": True,
            "sub": "key-1",
            "kind": "api_key",
            "projectId": "p9",
            "role": "viewer",
        }
        async with stub.client() as http:
            auth = Authenticator(
                verifier=verifier(FakeJwks(keys)),
                introspection=IntrospectionClient("http://id/introspect", http),
            )
            app = protected_app(auth)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as c:
                user = await c.get(
                    "/whoami", headers={"authorization": f"Bearer {keys.sign(sub='ann')}"}
                )
                key = await c.get("/whoami", headers={"x-api-key": "wfb_key"})
                missing = await c.get("/whoami")
                basic = await c.get("/whoami", headers={"authorization": "Basic abc"})
                expired = await c.get(
                    "/whoami",
                    headers={"authorization": f"Bearer {keys.sign(exp=int(time.time()) - 120)}"},
                )
                revoked = await c.get("/whoami", headers={"authorization": "Bearer wfb_gone"})
        assert user.json() == {"sub": "ann", "kind": "user", "project": None}
        assert key.json() == {"sub": "key-1", "kind": "api_key", "project": "p9"}
        for r in (missing, basic, expired, revoked):
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert "expired" in expired.json()["detail"]

    async def test_dev_token_only_when_enabled_in_embedded_mode(self) -> None:
        assert dev_token_guard("embedded", False, "x" * 20) is None
        assert dev_token_guard("embedded", True, "x" * 20) == "x" * 20
        with pytest.raises(ValueError, match="embedded"):
            dev_token_guard("kubernetes", True, "x" * 20)
        with pytest.raises(ValueError, match="16"):
            dev_token_guard("embedded", True, "short")
        auth = Authenticator(dev_token="x" * 20)
        app = protected_app(auth)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            ok = await c.get("/whoami", headers={"authorization": "Bearer " + "x" * 20})
            other = await c.get("/whoami", headers={"authorization": "Bearer " + "y" * 20})
        assert ok.json()["sub"] == "dev" and other.status_code == 401


class TestDaprCaller:
    def test_caller_and_token_checks(self) -> None:
        assert check_dapr_caller({"dapr-caller-app-id": "bff"}, ["bff"], None) == "bff"
        with pytest.raises(Unauthorized):
            check_dapr_caller({}, ["bff"], None)
        with pytest.raises(Forbidden):
            check_dapr_caller({"dapr-caller-app-id": "evil"}, ["bff"], None)
        with pytest.raises(Unauthorized):
            check_dapr_caller(
                {"dapr-caller-app-id": "bff", "dapr-api-token": "no"}, ["bff"], "secret"
            )
        assert (
            check_dapr_caller(
                {"dapr-caller-app-id": "bff", "dapr-api-token": "secret"}, ["bff"], "secret"
            )
            == "bff"
        )

    async def test_dependency_over_http(self) -> None:
        app = protected_app(Authenticator(), api_token="s3cret")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            ok = await c.get(
                "/internal",
                headers={"dapr-caller-app-id": "builder-bff", "dapr-api-token": "s3cret"},
            )
            forged = await c.get("/internal", headers={"dapr-caller-app-id": "builder-bff"})
        assert ok.json() == {"caller": "builder-bff"}
        assert forged.status_code == 401

    def test_invoke_url(self) -> None:
        assert (
            dapr_invoke_url("http://127.0.0.1:3500/", "admin-api", "/api/v1/auth/introspect")
            == "http://127.0.0.1:3500/v1.0/invoke/admin-api/method/api/v1/auth/introspect"
        )
