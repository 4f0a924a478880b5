"""Who is calling, and may they touch this run.

Every v2 request carries a principal: a user (JWT from admin-api), an API key (scoped to
one project), another platform service calling through Dapr, or — only in embedded mode
with an explicit setting — a static development token. Runs carry tenant labels; a
caller who may not see a run's project gets 404, exactly as for a run that does not exist.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request

from orchestrator.settings import Settings
from service_kit import auth as service_auth
from service_kit.problems import NotFound, Unauthorized

Action = Literal["read", "run", "approve", "control", "purge"]

ADMIN_API_ACTIONS: dict[str, str] = {
    "read": "executions.read",
    "run": "workflow.run",
    "approve": "workflow.run",
    "control": "workflow.run",
    "purge": "workflow.delete",
}
"""How each run operation maps onto admin-api's permission matrix."""
PrincipalKind = Literal["user", "api_key", "service", "dev"]


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: PrincipalKind
    project_id: str | None = None
    role: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def unrestricted(self) -> bool:
        return self.kind in ("service", "dev")


ProjectAccess = Callable[[Principal, str, Action], Awaitable[bool]]
"""Whether a principal may do an action in a project (admin-api's authorization check)."""


class Authenticator:
    """Resolves the request's principal. Token verification against admin-api is plugged
    in with ``verify_token`` / ``project_access`` by the app factory."""

    def __init__(
        self,
        settings: Settings,
        verify_token: Callable[[str], Awaitable[Principal]] | None = None,
        project_access: ProjectAccess | None = None,
    ) -> None:
        self.settings = settings
        self.verify_token = verify_token
        self.project_access = project_access
        if settings.auth_mode in ("dev", "none") and not settings.is_embedded:
            raise ValueError(f"auth_mode={settings.auth_mode!r} is only allowed in embedded mode")
        if settings.auth_mode == "dev" and not settings.dev_token:
            raise ValueError("auth_mode='dev' needs ORCHESTRATOR_DEV_TOKEN")

    async def authenticate(self, request: Request) -> Principal:
        if self.settings.auth_mode == "none":
            return Principal(subject="anonymous", kind="dev")
        caller = request.headers.get("dapr-caller-app-id")
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            token = request.headers.get("x-api-key", "").strip()
        if (
            self.settings.auth_mode == "dev"
            and token
            and self.settings.dev_token
            and hmac.compare_digest(token, self.settings.dev_token)
        ):
            return Principal(subject="developer", kind="dev")
        if token and self.verify_token is not None:
            return await self.verify_token(token)
        if caller and not token and self._trusted_service(request, caller):
            return Principal(subject=f"app:{caller}", kind="service")
        raise Unauthorized("a bearer token or API key is required")

    def _trusted_service(self, request: Request, caller: str) -> bool:
        """A call relayed by our own Dapr sidecar from another platform app."""
        if caller not in (self.settings.admin_api_app_id, "builder-bff", "workflow-orchestrator"):
            return False
        expected = self.settings.app_api_token
        if expected is None:
            return self.settings.is_embedded
        return hmac.compare_digest(request.headers.get("dapr-api-token", ""), expected)

    async def may(self, principal: Principal, labels: dict[str, str], action: Action) -> bool:
        if principal.unrestricted:
            return True
        project = labels.get("projectId")
        if project is None:
            return False
        if principal.kind == "api_key":
            return principal.project_id == project and _role_allows(principal.role, action)
        if self.project_access is None:
            return False
        return await self.project_access(principal, project, action)

    async def require(
        self, principal: Principal, labels: dict[str, str], action: Action, what: str
    ) -> None:
        if not await self.may(principal, labels, action):
            raise NotFound(f"{what} not found")


def _role_allows(role: str | None, action: Action) -> bool:
    if action == "read":
        return role in ("viewer", "editor", "admin", "owner")
    if action in ("run", "approve", "control"):
        return role in ("editor", "admin", "owner")
    return role in ("admin", "owner")


def admin_api_verifier(
    kit: service_auth.Authenticator,
) -> Callable[[str], Awaitable[Principal]]:
    """Verify tokens the way every service does (``service_kit.auth``): JWTs offline
    against admin-api's JWKS, API keys by introspection (both cached)."""

    async def verify(token: str) -> Principal:
        try:
            found = await kit.authenticate(token)
        except service_auth.AuthError as exc:
            raise Unauthorized(str(exc)) from None
        kind: PrincipalKind = "api_key" if found.kind == "api_key" else "user"
        return Principal(
            subject=found.sub,
            kind=kind,
            project_id=found.project_id,
            role=found.roles[0] if found.roles else None,
            token=token,
        )

    return verify


def admin_api_project_access(client: service_auth.AuthorizationClient) -> ProjectAccess:
    """Ask admin-api whether the caller's token may act in a project (cached briefly)."""

    async def may(principal: Principal, project_id: str, action: Action) -> bool:
        if principal.token is None:
            return False
        decision = await client.check(
            principal.token, "project", project_id, ADMIN_API_ACTIONS[action]
        )
        return decision.allowed

    return may


async def _principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]
