"""BOLA: every tenant-scoped route called with another tenant's ids answers 404 and
leaks nothing, whatever the caller's role in their own tenant; nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from admin_api_testkit import (
    Api,
    GuardedRoute,
    World,
    fill,
    guarded_routes,
    simple_definition,
    world_for,
    world_ids,
)

pytestmark = pytest.mark.integration

ROUTES = guarded_routes()
_attackers: dict[str, dict[str, Any]] = {}


def plausible_body(route: GuardedRoute, attacker_id: str) -> dict[str, Any] | None:
    """A body that would be accepted if the ids were the caller's own."""
    if not route.has_body:
        return None
    path = route.path
    if path.endswith("/members"):
        return {"userId": attacker_id, "role": "owner"}
    if path.endswith("/members/{userId}"):
        return {"role": "owner"}
    if path.endswith("/transfer-ownership"):
        return {"userId": attacker_id}
    if path.endswith("/invitations"):
        return {"email": "attacker@example.com", "role": "owner"}
    if path.endswith("/workflows"):
        return {"name": "planted", "definition": simple_definition()}
    if path.endswith("/import"):
        return {"format": "json", "content": json.dumps(simple_definition())}
    if path.endswith("/definition"):
        return {"definition": simple_definition("Planted")}
    if path.endswith("/api-keys"):
        return {"name": "stolen", "role": "admin"}
    if path.endswith(("/organizations", "/projects")) or route.method == "PATCH":
        return {"name": "planted"}
    return {}


async def attacker(api: Api) -> dict[str, Any]:
    if api.service.url not in _attackers:
        me = await api.user("attacker")
        t = await api.tenancy(me)
        key = await me.post(
            f"/api/v1/projects/{t.project}/api-keys", json={"name": "k", "role": "admin"}
        )
        _attackers[api.service.url] = {
            "id": me.id,
            "user": me.headers,
            "api_key": {"authorization": f"Bearer {key.json()['key']}"},
        }
    return _attackers[api.service.url]


def secrets_of(world: World) -> list[str]:
    ids = world_ids(world)
    return [v for k, v in ids.items() if k != "number"] + world.names


@pytest.mark.parametrize("who", ["user", "api_key"])
@pytest.mark.parametrize("route", ROUTES, ids=[r.id for r in ROUTES])
async def test_other_tenants_ids_are_not_found(api: Api, route: GuardedRoute, who: str) -> None:
    world = await world_for(api)
    me = await attacker(api)
    body = plausible_body(route, me["id"])
    kw: dict[str, Any] = {"json": body} if body is not None else {}
    url = fill(route.path, world_ids(world))
    response = await api.http.request(route.method, url, headers=me[who], **kw)
    assert response.status_code == 404, response.text
    for secret in secrets_of(world):
        if secret not in url:  # the ids the caller sent are echoed, nothing else
            assert secret not in response.text
    detail = response.json()["detail"]
    assert "not found" in detail


async def test_victim_tenant_is_unchanged_and_invisible(api: Api) -> None:
    world = await world_for(api)
    me = await attacker(api)
    owner = world.headers["owner"]
    wf = await api.http.get(f"/api/v1/workflows/{world.workflow}", headers=owner)
    assert wf.status_code == 200 and wf.json()["status"] == "deployed"
    assert wf.json()["name"] == world.names[0]
    members = await api.http.get(f"/api/v1/companies/{world.company}/members", headers=owner)
    assert me["id"] not in members.text
    keys = await api.http.get(f"/api/v1/projects/{world.project}/api-keys", headers=owner)
    assert "stolen" not in keys.text
    companies = await api.http.get("/api/v1/companies", headers=me["user"])
    projects = await api.http.get("/api/v1/projects", headers=me["user"])
    key_projects = await api.http.get("/api/v1/projects", headers=me["api_key"])
    for r in (companies, projects, key_projects):
        assert r.status_code == 200
        for secret in secrets_of(world):
            assert secret not in r.text
    authz = await api.http.post(
        "/api/v1/authz/check",
        headers={"dapr-caller-app-id": "builder-bff"},
        json={
            "token": me["user"]["authorization"][7:],
            "resource": {"type": "workflow", "id": world.workflow},
            "action": "workflow.read",
        },
    )
    assert authz.json() == {"allowed": False, "role": None, "tenant": None}
