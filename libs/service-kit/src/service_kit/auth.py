"""Verifying callers: JWTs against a JWKS, opaque tokens by introspection, Dapr callers.

Generic on purpose: no service's tables or roles are known here. A service builds an
:class:`Authenticator` in its lifespan and turns it into a FastAPI dependency::

    verifier = JwtVerifier(JwksSource.http(jwks_url, http), issuer=..., audience=...)
    introspection = IntrospectionClient(introspect_url, http)
    app.state.authenticator = Authenticator(verifier=verifier, introspection=introspection)
    CurrentPrincipal = Annotated[Principal, Depends(principal_dependency())]

- :class:`JwtVerifier`: the algorithm is pinned (the token header cannot choose it),
  ``iss``/``aud``/``exp``/``iat``/``sub`` are required, keys are looked up by ``kid`` in
  a cached JWKS that is refreshed when an unknown ``kid`` appears (rate-limited), with a
  small clock-skew leeway.
- :class:`IntrospectionClient`: RFC 7662-style ``{token} -> {active, sub, kind, ...}``
  with a short TTL cache (positive and negative answers), never longer than the
  token's own expiry.
- :class:`AuthorizationClient`: ``{token, resource, action} -> {allowed, role, tenant}``
  with the same kind of cache.
- :func:`dapr_caller_dependency`: accepts only Dapr service invocation from allowed
  app ids, and (when the sidecar is configured with ``APP_API_TOKEN``) only calls that
  carry that token in ``dapr-api-token``.
- A static development token may be accepted only in embedded mode and only when
  explicitly enabled (:func:`dev_token_guard`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import httpx
import jwt
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from service_kit.problems import Forbidden, ServiceUnavailable, Unauthorized

PrincipalKind = Literal["user", "api_key", "service"]
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub")
SUPPORTED_ALGORITHMS = frozenset({"EdDSA", "RS256", "ES256"})


class AuthError(Exception):
    """A credential was missing, malformed, expired or not accepted."""


class Principal(BaseModel):
    """Who is calling: a user (JWT), an API key (introspected) or a service (Dapr)."""

    model_config = ConfigDict(frozen=True)

    sub: str
    kind: PrincipalKind
    roles: tuple[str, ...] = ()
    project_id: str | None = None
    claims: Mapping[str, Any] = Field(default_factory=dict)
    credential: str | None = Field(default=None, repr=False, exclude=True)
    """The raw token, so a service can forward the caller's identity downstream."""

    @property
    def authorization_header(self) -> str | None:
        return f"Bearer {self.credential}" if self.credential else None


# --- JWKS + JWT ------------------------------------------------------------------------

JwksLoader = Callable[[], Awaitable[Mapping[str, Any]]]


class JwksSource:
    """Where a verifier gets its keys: a loader returning a JWKS document."""

    def __init__(self, loader: JwksLoader) -> None:
        self.loader = loader

    @classmethod
    def http(
        cls, url: str, client: httpx.AsyncClient, headers: Mapping[str, str] | None = None
    ) -> JwksSource:
        async def load() -> Mapping[str, Any]:
            try:
                response = await client.get(url, headers=dict(headers or {}))
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"cannot fetch the signing keys: {exc}") from exc
            if response.status_code != 200:
                raise ServiceUnavailable(
                    f"cannot fetch the signing keys: {url} answered {response.status_code}"
                )
            data: Mapping[str, Any] = response.json()
            return data

        return cls(load)

    @classmethod
    def static(cls, jwks: Mapping[str, Any]) -> JwksSource:
        async def load() -> Mapping[str, Any]:
            return jwks

        return cls(load)


@dataclass
class _KeyCache:
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")


class JwtVerifier:
    """Verifies access tokens offline against a cached JWKS."""

    def __init__(
        self,
        source: JwksSource,
        *,
        issuer: str,
        audience: str,
        algorithm: str = "EdDSA",
        leeway_s: float = 30.0,
        cache_ttl_s: float = 300.0,
        min_refresh_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported JWT algorithm {algorithm!r}")
        self.source = source
        self.issuer = issuer
        self.audience = audience
        self.algorithm = algorithm
        self.leeway_s = leeway_s
        self.cache_ttl_s = cache_ttl_s
        self.min_refresh_interval_s = min_refresh_interval_s
        self._clock = clock
        self._cache = _KeyCache()
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or :class:`AuthError` saying what is wrong."""
        header = _unverified_header(token)
        if header.get("alg") != self.algorithm:
            raise AuthError(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id (kid)")
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token is not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token was issued by an unknown issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the required claim {exc.claim!r}") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"token is invalid: {exc}") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AuthError("token subject is empty")
        return claims

    async def _key(self, kid: str) -> jwt.PyJWK:
        now = self._clock()
        cache = self._cache
        if kid in cache.keys and now - cache.fetched_at < self.cache_ttl_s:
            return cache.keys[kid]
        async with self._lock:
            cache = self._cache
            stale = now - cache.fetched_at >= self.cache_ttl_s
            may_refresh = now - cache.fetched_at >= self.min_refresh_interval_s
            if (stale or kid not in cache.keys) and may_refresh:
                self._cache = cache = _KeyCache(await self._fetch(), self._clock())
        if kid not in cache.keys:
            raise AuthError(f"token was signed with an unknown key {kid!r}")
        return cache.keys[kid]

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        document = await self.source.loader()
        keys: dict[str, jwt.PyJWK] = {}
        for raw in document.get("keys", ()):
            if not isinstance(raw, Mapping) or not raw.get("kid"):
                continue
            if raw.get("alg", self.algorithm) != self.algorithm or raw.get("use", "sig") != "sig":
                continue
            try:
                keys[str(raw["kid"])] = jwt.PyJWK(dict(raw), algorithm=self.algorithm)
            except jwt.PyJWTError:
                continue  # a key this verifier cannot use is simply not available
        return keys


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        header: dict[str, Any] = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError(f"token is malformed: {exc}") from None
    return header


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(".")


# --- introspection and authorization clients ---------------------------------------------


class Introspection(BaseModel):
    """What the identity service says about an opaque token or API key."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    active: bool
    sub: str | None = None
    kind: PrincipalKind | None = None
    project_id: str | None = Field(default=None, alias="projectId")
    role: str | None = None
    exp: int | None = None


class TenantRef(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    company_id: str | None = Field(default=None, alias="companyId")
    organization_id: str | None = Field(default=None, alias="organizationId")
    project_id: str | None = Field(default=None, alias="projectId")


class AuthzDecision(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    allowed: bool
    role: str | None = None
    tenant: TenantRef | None = None


V = TypeVar("V")


class TtlCache(Generic[V]):
    """A small LRU map whose entries expire; keys are hashed so no secret is kept."""

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self.max_entries = max_entries
        self._clock = clock

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if self._clock() >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._items[key] = (self._clock() + ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class _JsonPoster:
    def __init__(
        self, url: str, client: httpx.AsyncClient, headers: Mapping[str, str] | None
    ) -> None:
        self.url = url
        self.client = client
        self.headers = dict(headers or {})

    async def post(self, body: Mapping[str, Any], what: str) -> Any:
        try:
            response = await self.client.post(self.url, json=dict(body), headers=self.headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{what} is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"{what} answered {response.status_code}")
        return response.json()


class IntrospectionClient:
    """Asks the identity service about opaque tokens; caches answers briefly."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        headers: Mapping[str, str] | None = None,
        cache_ttl_s: float = 30.0,
        negative_ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._poster = _JsonPoster(url, client, headers)
        self.cache_ttl_s = cache_ttl_s
        self.negative_ttl_s = negative_ttl_s
        self._cache: TtlCache[Introspection] = TtlCache(clock=clock)
        self._wall = wall_clock

    async def introspect(self, token: str) -> Introspection:
        key = TtlCache.key("introspect", token)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = Introspection.model_validate(
            await self._poster.post({"token": token}, "the introspection endpoint")
        )
        ttl = self.cache_ttl_s if result.active else self.negative_ttl_s
        if result.exp is not None:
            ttl = min(ttl, result.exp - self._wall())
        self._cache.put(key, result, ttl)
        return result


class AuthorizationClient:
    """Asks the identity service whether a caller may act on a resource; caches briefly."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        headers: Mapping[str, str] | None = None,
        cache_ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._poster = _JsonPoster(url, client, headers)
        self.cache_ttl_s = cache_ttl_s
        self._cache: TtlCache[AuthzDecision] = TtlCache(clock=clock)

    async def check(
        self, token: str, resource_type: str, resource_id: str, action: str
    ) -> AuthzDecision:
        key = TtlCache.key("authz", token, resource_type, resource_id, action)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        body = {"token": token, "resource": {"type": resource_type, "id": resource_id}}
        decision = AuthzDecision.model_validate(
            await self._poster.post({**body, "action": action}, "the authorization endpoint")
        )
        self._cache.put(key, decision, self.cache_ttl_s)
        return decision


# --- the authenticator and its FastAPI dependency -----------------------------------------


def dev_token_guard(mode: str, enabled: bool, token: str | None) -> str | None:
    """The static development token, if it may be used: only in embedded mode, only when
    explicitly enabled, never empty. Anything else refuses to start."""
    if not enabled:
        return None
    if mode != "embedded":
        raise ValueError("a static development token is only allowed in embedded mode")
    if not token or len(token) < 16:
        raise ValueError("the development token must be at least 16 characters")
    return token


class Authenticator:
    """Turns a presented credential into a :class:`Principal`."""

    def __init__(
        self,
        *,
        verifier: JwtVerifier | None = None,
        introspection: IntrospectionClient | None = None,
        dev_token: str | None = None,
        dev_principal: Principal | None = None,
    ) -> None:
        self.verifier = verifier
        self.introspection = introspection
        self.dev_token = dev_token
        self.dev_principal = dev_principal or Principal(sub="dev", kind="user", roles=("owner",))

    async def authenticate(self, token: str) -> Principal:
        if self.dev_token is not None and hmac.compare_digest(token, self.dev_token):
            return self.dev_principal.model_copy(update={"credential": token})
        if looks_like_jwt(token) and self.verifier is not None:
            claims = await self.verifier.verify(token)
            roles = claims.get("roles", ())
            return Principal(
                sub=claims["sub"],
                kind="user" if claims.get("kind", "user") == "user" else "service",
                roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
                claims=claims,
                credential=token,
            )
        if self.introspection is not None:
            info = await self.introspection.introspect(token)
            if not info.active or not info.sub:
                raise AuthError("token is not active")
            return Principal(
                sub=info.sub,
                kind=info.kind or "api_key",
                roles=(info.role,) if info.role else (),
                project_id=info.project_id,
                claims=info.model_dump(by_alias=True, exclude_none=True),
                credential=token,
            )
        raise AuthError("this kind of token is not accepted here")


def credential_from_request(request: Request) -> str | None:
    """The bearer token (``Authorization: Bearer ...``) or ``X-API-Key`` of a request."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


def principal_dependency(
    authenticator: Authenticator | Callable[[Request], Authenticator] | None = None,
    *,
    state_attribute: str = "authenticator",
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency returning the caller's :class:`Principal` or raising 401.

    Without an explicit authenticator it uses ``request.app.state.<state_attribute>``,
    so the authenticator can be built in the app's lifespan."""

    def resolve(request: Request) -> Authenticator:
        if isinstance(authenticator, Authenticator):
            return authenticator
        if authenticator is not None:
            return authenticator(request)
        found = getattr(request.app.state, state_attribute, None)
        if not isinstance(found, Authenticator):
            raise RuntimeError(f"app.state.{state_attribute} is not an Authenticator")
        return found

    async def dependency(request: Request) -> Principal:
        token = credential_from_request(request)
        if token is None:
            raise Unauthorized("authentication required: send a bearer token or an API key")
        try:
            return await resolve(request).authenticate(token)
        except AuthError as exc:
            raise Unauthorized(str(exc)) from None

    return dependency


# --- Dapr service invocation ------------------------------------------------------------

DAPR_CALLER_HEADER = "dapr-caller-app-id"
DAPR_API_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 (a header name)


def check_dapr_caller(
    headers: Mapping[str, str], allowed_app_ids: Sequence[str], app_api_token: str | None
) -> str:
    """The calling app id, if the call came through Dapr from an allowed app.

    ``dapr-caller-app-id`` is set by the calling app's sidecar; on its own it can be
    forged by anything that reaches the app port, so when the sidecar is configured
    with ``APP_API_TOKEN`` the call must also carry it in ``dapr-api-token``."""
    if app_api_token:
        presented = headers.get(DAPR_API_TOKEN_HEADER, "")
        if not hmac.compare_digest(presented.encode(), app_api_token.encode()):
            raise Unauthorized("this endpoint is only for Dapr service invocation")
    caller = headers.get(DAPR_CALLER_HEADER)
    if not caller:
        raise Unauthorized("this endpoint is only for Dapr service invocation")
    if caller not in allowed_app_ids:
        raise Forbidden(f"app {caller!r} may not call this endpoint")
    return caller


def dapr_caller_dependency(
    allowed_app_ids: Sequence[str] | Callable[[Request], Sequence[str]],
    app_api_token: str | Callable[[Request], str | None] | None = None,
) -> Callable[[Request], Awaitable[str]]:
    """A FastAPI dependency that admits only Dapr invocations from ``allowed_app_ids``."""

    async def dependency(request: Request) -> str:
        allowed = allowed_app_ids(request) if callable(allowed_app_ids) else allowed_app_ids
        token = app_api_token(request) if callable(app_api_token) else app_api_token
        return check_dapr_caller(request.headers, allowed, token)

    return dependency


def dapr_invoke_url(dapr_http_endpoint: str, app_id: str, method: str) -> str:
    """``{endpoint}/v1.0/invoke/<app-id>/method/<method>``."""
    return f"{dapr_http_endpoint.rstrip('/')}/v1.0/invoke/{app_id}/method/{method.lstrip('/')}"
