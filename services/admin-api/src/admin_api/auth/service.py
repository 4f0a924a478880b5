"""Register, login (rate limits, lockout), refresh-token rotation with reuse detection,
logout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.audit.service import AuditTrail
from admin_api.auth.models import RefreshToken
from admin_api.auth.passwords import hash_password, needs_rehash, verify_password
from admin_api.auth.schemas import LoginRequest, RegisterRequest, TokenPair
from admin_api.auth.tokens import REFRESH_PREFIX, TokenIssuer, new_secret, sha256_hex
from admin_api.context import Actor, ClientInfo
from admin_api.db import new_id, utcnow
from admin_api.ratelimit import RateLimiter
from admin_api.settings import Settings
from admin_api.tenancy.models import Project
from admin_api.tenancy.service import bootstrap_default_tenant
from admin_api.users import repository as users
from admin_api.users.models import User
from service_kit.problems import Conflict, TooManyRequests, Unauthorized

BAD_CREDENTIALS = "invalid email or password"


@dataclass
class AuthService:
    session: AsyncSession
    settings: Settings
    issuer: TokenIssuer
    limiter: RateLimiter
    audit: AuditTrail
    client: ClientInfo

    async def _limit(self, key: str, limit: int, actor: Actor, action: str) -> None:
        hit = await self.limiter.hit(key, limit, self.settings.rate_window_s)
        if not hit.allowed:
            await self.audit.record_failure(actor, action, detail={"reason": "rate limited"})
            raise TooManyRequests(
                "too many attempts; try again later", retry_after=hit.retry_after_s
            )

    async def register(self, body: RegisterRequest) -> tuple[User, Project | None]:
        email = users.normalise_email(body.email)
        await self._limit(
            f"register:ip:{self.client.ip}",
            self.settings.register_limit_per_ip,
            Actor.anonymous(email),
            "auth.register",
        )
        if await users.by_email(self.session, email):
            raise Conflict("an account with this email already exists")
        first = self.settings.bootstrap_default_tenant and await users.count(self.session) == 0
        user = User(
            email=email,
            display_name=body.display_name or email.split("@")[0],
            password_hash=await hash_password(body.password),
            created_at=utcnow(),
        )
        self.session.add(user)
        try:
            await self.session.flush()
            project = await bootstrap_default_tenant(self.session, user) if first else None
        except IntegrityError:
            raise Conflict(
                "the account could not be created (a concurrent sign-up); retry"
            ) from None
        self.audit.record(
            Actor.for_user(user),
            "auth.register",
            resource_type="user",
            resource_id=user.id,
            detail={"bootstrapOwner": first},
        )
        return user, project

    async def login(self, body: LoginRequest) -> TokenPair:
        email = users.normalise_email(body.email)
        anonymous = Actor.anonymous(email)
        await self._limit(
            f"login:ip:{self.client.ip}", self.settings.login_limit_per_ip, anonymous, "auth.login"
        )
        await self._limit(
            f"login:account:{email}",
            self.settings.login_limit_per_account,
            anonymous,
            "auth.login",
        )
        user = await users.by_email(self.session, email)
        now = utcnow()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            await self.audit.record_failure(
                Actor.for_user(user), "auth.login", detail={"reason": "account locked"}
            )
            retry = int((user.locked_until - now).total_seconds()) + 1
            raise TooManyRequests("too many failed sign-ins; try again later", retry_after=retry)
        if user is None or not await verify_password(user.password_hash, body.password):
            await self._failed_login(user, anonymous)
            raise Unauthorized(BAD_CREDENTIALS)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password(body.password)
        pair = await self._issue(user, family_id=new_id())
        self.audit.record(
            Actor.for_user(user), "auth.login", resource_type="user", resource_id=user.id
        )
        return pair

    async def _failed_login(self, user: User | None, anonymous: Actor) -> None:
        detail: dict[str, object] = {"reason": "bad credentials"}
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= self.settings.lockout_threshold:
                user.locked_until = utcnow() + timedelta(seconds=self.settings.lockout_s)
                user.failed_logins = 0
                detail["locked"] = True
        actor = Actor.for_user(user) if user is not None else anonymous
        await self.audit.record_failure(actor, "auth.login", detail=detail)

    async def _issue(self, user: User, family_id: str) -> TokenPair:
        access, ttl = self.issuer.access_token(user.id, user.email)
        refresh, digest = new_secret(REFRESH_PREFIX)
        now = utcnow()
        self.session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=digest,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
                ip=self.client.ip,
                user_agent=self.client.user_agent,
            )
        )
        await self.session.flush()
        return TokenPair(
            access_token=access,
            expires_in=ttl,
            refresh_token=refresh,
            refresh_expires_in=self.settings.refresh_token_ttl_s,
        )

    async def refresh(self, token: str) -> TokenPair:
        row: RefreshToken | None = await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(token))
        )
        if row is None:
            raise Unauthorized("the refresh token is not valid")
        user = await self.session.get(User, row.user_id)
        actor = Actor.for_user(user) if user else Actor.anonymous()
        if row.used_at is not None or row.revoked_at is not None:
            await self._reuse_detected(row, actor)
        if row.expires_at <= utcnow() or user is None:
            await self.audit.record_failure(actor, "auth.refresh", detail={"reason": "expired"})
            raise Unauthorized("the refresh token has expired; sign in again")
        claimed = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == row.id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        if getattr(claimed, "rowcount", 0) != 1:  # a concurrent use of the same token
            await self._reuse_detected(row, actor)
        pair = await self._issue(user, row.family_id)
        self.audit.record(actor, "auth.refresh", resource_type="user", resource_id=user.id)
        return pair

    async def _reuse_detected(self, row: RefreshToken, actor: Actor) -> None:
        """A rotated-out (or revoked) token was presented: someone else may hold the
        family; revoke all of it and make the owner sign in again."""
        await self._revoke_family(row.family_id)
        await self.audit.record_failure(
            actor,
            "auth.refresh_reuse",
            resource_type="user",
            resource_id=row.user_id,
            detail={"family": row.family_id},
        )
        raise Unauthorized("the refresh token was already used; every session of it is revoked")

    async def _revoke_family(self, family_id: str) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def logout(self, token: str) -> None:
        row: RefreshToken | None = await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(token))
        )
        if row is None:
            return
        await self._revoke_family(row.family_id)
        user = await self.session.get(User, row.user_id)
        actor = Actor.for_user(user) if user else Actor.anonymous()
        self.audit.record(actor, "auth.logout", resource_type="user", resource_id=row.user_id)
