"""Role x endpoint: every guarded route, called by every role (and an admin API key),
is allowed or refused exactly as the permission table says."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from admin_api_testkit import (
    ROLES,
    Api,
    GuardedRoute,
    World,
    all_routes,
    fill,
    guarded_routes,
    world_for,
    world_ids,
)

from admin_api.permissions import Role, allows

pytestmark = pytest.mark.integration

ROUTES = guarded_routes()
PRINCIPALS = (*ROLES, "api_key")
DENIED, HIDDEN = 403, 404


async def throwaway(api: Api, world: World, route: GuardedRoute, principal: str) -> dict[str, str]:
    """Fresh targets for routes that change things without a body (deletes, stop), so
    an allowed call does not destroy the shared world."""
    owner = world.headers["owner"]
    ids = world_ids(world)
    http = api.http
    if route.path.endswith("/members/{userId}"):
        plural = route.path.split("/")[3]
        scope_id = ids[route.param]
        await http.post(
            f"/api/v1/{plural}/{scope_id}/members",
            headers=owner,
            json={"userId": world.victim, "role": "viewer"},
        )
        return ids
    suffix = uuid.uuid4().hex[:6]
    if route.param == "companyId":
        c = await http.post("/api/v1/companies", headers=owner, json={"name": f"tmp {suffix}"})
        ids["companyId"] = c.json()["id"]
        if principal in ROLES and principal != "owner":
            me = await http.get("/api/v1/auth/me", headers=world.headers[principal])
            r = await http.post(
                f"/api/v1/companies/{ids['companyId']}/members",
                headers=owner,
                json={"userId": me.json()["user"]["id"], "role": principal},
            )
            assert r.status_code == 201, r.text
        if principal == "owner":
            ids["companyId"] = c.json()["id"]
    elif route.param == "organizationId":
        o = await http.post(
            f"/api/v1/companies/{world.company}/organizations",
            headers=owner,
            json={"name": f"tmp {suffix}"},
        )
        ids["organizationId"] = o.json()["id"]
    elif route.param == "projectId":
        p = await http.post(
            f"/api/v1/organizations/{world.organization}/projects",
            headers=owner,
            json={"name": f"tmp {suffix}"},
        )
        ids["projectId"] = p.json()["id"]
    elif route.param == "workflowId":
        from admin_api_testkit import simple_definition

        w = await http.post(
            f"/api/v1/projects/{world.project}/workflows",
            headers=owner,
            json={"name": f"tmp {suffix}", "definition": simple_definition()},
        )
        ids["workflowId"] = w.json()["id"]
        if route.path.endswith("/stop"):
            await http.post(f"/api/v1/workflows/{ids['workflowId']}/deploy", headers=owner, json={})
    elif route.param == "keyId":
        k = await http.post(
            f"/api/v1/projects/{world.project}/api-keys", headers=owner, json={"name": "tmp"}
        )
        ids["keyId"] = k.json()["id"]
    elif route.param == "invitationId":
        i = await http.post(
            f"/api/v1/projects/{world.project}/invitations",
            headers=owner,
            json={"email": "x@example.com"},
        )
        ids["invitationId"] = i.json()["id"]
    return ids


def key_can_see(route: GuardedRoute, ids: dict[str, str], world: World) -> bool:
    """An API key sees only its own project and what is inside it."""
    if route.resource in ("company", "organization"):
        return False
    if route.resource == "project":
        return ids["projectId"] == world.project
    return True


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
async def test_route_obeys_the_matrix(api: Api, route: GuardedRoute, principal: str) -> None:
    world = await world_for(api)
    destructive = not route.has_body and route.method != "GET"
    ids = await throwaway(api, world, route, principal) if destructive else world_ids(world)
    kw: dict[str, Any] = {"json": {"zzNotAField": 1}} if route.has_body else {}
    response = await api.http.request(
        route.method, fill(route.path, ids), headers=world.headers[principal], **kw
    )
    if principal == "api_key":
        if not key_can_see(route, ids, world):
            assert response.status_code == HIDDEN, response.text
            return
        expected = allows(Role.ADMIN, route.action, api_key=True)
    else:
        expected = allows(Role(principal), route.action)
    if expected:
        assert response.status_code not in (401, DENIED, HIDDEN), response.text
        if route.has_body:
            assert response.status_code == 422 and "zzNotAField" in response.text
    else:
        assert response.status_code == DENIED, response.text
        assert response.headers["content-type"] == "application/problem+json"


def test_every_tenant_route_is_guarded() -> None:
    """No route that takes a tenant id escapes the matrix."""
    from fastapi.routing import APIRoute

    guarded = {(r.method, r.path) for r in ROUTES}
    tenant_params = (
        "{companyId}",
        "{organizationId}",
        "{projectId}",
        "{workflowId}",
        "{keyId}",
        "{invitationId}",
    )
    for route in all_routes():
        if not isinstance(route, APIRoute) or route.path.startswith("/api/v1/internal/"):
            continue  # internal routes admit Dapr callers only (tested on their own)
        if any(p in route.path for p in tenant_params):
            for method in route.methods:
                assert (method, route.path) in guarded, f"{method} {route.path} is not guarded"
    assert len(ROUTES) >= 40
