"""``/api/v1/auth/*``, the JWKS, and the two endpoints other services call through Dapr
(token introspection, authorization checks)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from admin_api.apikeys.service import authenticate_api_key
from admin_api.audit.service import AuditDep
from admin_api.auth.keys import KeyRing
from admin_api.auth.schemas import (
    AuthzRequest,
    AuthzResponse,
    IntrospectRequest,
    IntrospectResponse,
    LoginRequest,
    MeResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
)
from admin_api.auth.service import AuthService
from admin_api.context import Actor
from admin_api.deps import (
    ClientDep,
    InternalCaller,
    SessionDep,
    SettingsDep,
    UserActor,
)
from admin_api.openapi import errors
from admin_api.permissions import Action, allows
from admin_api.tenancy import repository as tenancy
from admin_api.tenancy.access import role_on, tenant_of
from admin_api.tenancy.schemas import MembershipSummary
from admin_api.users.models import User
from admin_api.users.schemas import UserOut
from service_kit.auth import AuthError, looks_like_jwt
from service_kit.problems import Conflict, TooManyRequests, Unprocessable

router = APIRouter(tags=["auth"])
PREFIX = "/api/v1/auth"


async def auth_service(
    request: Request, session: SessionDep, settings: SettingsDep, audit: AuditDep, client: ClientDep
) -> AuthService:
    state = request.app.state
    return AuthService(session, settings, state.issuer, state.limiter, audit, client)


Auth = Annotated[AuthService, Depends(auth_service)]


@router.post(
    f"{PREFIX}/register",
    status_code=201,
    responses=errors(Conflict, TooManyRequests, public=True),
    summary="Create an account (the first one of a fresh install owns a default tenant)",
)
async def register(body: RegisterRequest, auth: Auth) -> RegisterResponse:
    user, project = await auth.register(body)
    return RegisterResponse(
        user=UserOut.model_validate(user), default_project_id=project.id if project else None
    )


@router.post(
    f"{PREFIX}/login",
    responses=errors(TooManyRequests),
    summary="Exchange email + password for tokens",
)
async def login(body: LoginRequest, auth: Auth) -> TokenPair:
    return await auth.login(body)


@router.post(
    f"{PREFIX}/refresh", responses=errors(), summary="Rotate a refresh token (each one works once)"
)
async def refresh(body: RefreshRequest, auth: Auth) -> TokenPair:
    return await auth.refresh(body.refresh_token)


@router.post(
    f"{PREFIX}/logout",
    status_code=204,
    responses=errors(public=True),
    summary="Revoke the refresh token and every token rotated from the same sign-in",
)
async def logout(body: RefreshRequest, auth: Auth) -> Response:
    await auth.logout(body.refresh_token)
    return Response(status_code=204)


@router.get(f"{PREFIX}/me", responses=errors(), summary="The signed-in user and their memberships")
async def me(actor: UserActor, session: SessionDep) -> MeResponse:
    assert actor.user is not None
    memberships = []
    for m in await tenancy.user_memberships(session, actor.user.id):
        scope = await session.get(tenancy.SCOPE_MODELS[m.scope_type], m.scope_id)
        memberships.append(
            MembershipSummary(
                scope_type=m.scope_type,
                scope_id=m.scope_id,
                role=m.role,
                name=scope.name if scope else "",
            )
        )
    return MeResponse(user=UserOut.model_validate(actor.user), memberships=memberships)


@router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens (JWKS)")
async def jwks(request: Request, response: Response, session: SessionDep) -> dict[str, Any]:
    keyring: KeyRing = request.app.state.keyring
    response.headers["cache-control"] = "public, max-age=300"
    return await keyring.jwks(session)


# --- for other services (Dapr service invocation only) ------------------------------------


async def _actor_for_token(
    request: Request, session: SessionDep, token: str
) -> tuple[Actor | None, int | None]:
    if looks_like_jwt(token):
        try:
            claims = await request.app.state.verifier.verify(token)
        except AuthError:
            return None, None
        user = await session.get(User, claims["sub"])
        return (Actor.for_user(user, token) if user else None), int(claims["exp"])
    key = await authenticate_api_key(session, token)
    if key is None:
        return None, None
    exp = int(key.expires_at.timestamp()) if key.expires_at else None
    return Actor(
        kind="api_key", id=key.id, label=f"key:{key.prefix}", api_key=key, credential=token
    ), exp


@router.post(
    f"{PREFIX}/introspect",
    responses=errors(),
    tags=["internal"],
    summary="Is this access token or API key active, and whose is it? (Dapr callers only)",
)
async def introspect(
    body: IntrospectRequest, request: Request, caller: InternalCaller, session: SessionDep
) -> IntrospectResponse:
    actor, exp = await _actor_for_token(request, session, body.token)
    if actor is None or actor.id is None:
        return IntrospectResponse(active=False)
    if actor.api_key is not None:
        return IntrospectResponse(
            active=True,
            sub=actor.id,
            kind="api_key",
            project_id=actor.api_key.project_id,
            role=actor.api_key.role,
            exp=exp,
        )
    return IntrospectResponse(active=True, sub=actor.id, kind="user", exp=exp)


@router.post(
    "/api/v1/authz/check",
    responses=errors(),
    tags=["internal"],
    summary="May this caller perform this action on this resource? (Dapr callers only)",
)
async def authz_check(
    body: AuthzRequest, request: Request, caller: InternalCaller, session: SessionDep
) -> AuthzResponse:
    try:
        action = Action(body.action)
    except ValueError:
        raise Unprocessable(
            f"unknown action {body.action!r}", errors=[{"known": [a.value for a in Action]}]
        ) from None
    actor, _ = await _actor_for_token(request, session, body.token)
    if actor is None:
        return AuthzResponse(allowed=False)
    tenant = await tenant_of(session, body.resource.type, body.resource.id)
    role = await role_on(session, actor, tenant) if tenant else None
    if tenant is None or role is None:
        return AuthzResponse(allowed=False)
    return AuthzResponse(
        allowed=allows(role, action, api_key=actor.is_api_key),
        role=role.value,
        tenant=tenant.as_json(),
    )
