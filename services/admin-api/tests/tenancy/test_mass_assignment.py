"""Request bodies cannot set roles, owners, tenants or version fields: unknown fields
are refused with 422 naming them, and nothing is created or changed."""

from __future__ import annotations

from typing import Any

import pytest
from admin_api_testkit import Api, simple_definition

pytestmark = pytest.mark.integration


async def test_register_cannot_grant_roles_or_ownership(api: Api) -> None:
    for extra in ({"role": "owner"}, {"isOwner": True}, {"companyId": "x"}, {"id": "chosen-id"}):
        r = await api.http.post(
            "/api/v1/auth/register",
            json={"email": "mass@example.com", "password": "long enough password", **extra},
        )
        assert r.status_code == 422, extra
        assert next(iter(extra)) in r.text
    login = await api.http.post(
        "/api/v1/auth/login", json={"email": "mass@example.com", "password": "long enough password"}
    )
    assert login.status_code == 401  # no account was created


_setups: dict[str, Any] = {}


async def setup(api: Api) -> Any:
    if api.service.url not in _setups:
        owner, other = await api.user("owner"), await api.user("other")
        mine, theirs = await api.tenancy(owner), await api.tenancy(other)
        victim = await api.member(owner, "project", mine.project, "viewer", "victim")
        wf = await api.workflow(owner, mine.project)
        _setups[api.service.url] = (owner, other, mine, theirs, victim, wf)
    owner, other, *rest = _setups[api.service.url]
    owner.api = other.api = api  # bind to this test's client
    return (owner, other, *rest)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/companies", {"name": "x", "ownerId": "{victim}"}),
        ("POST", "/api/v1/companies", {"name": "x", "id": "chosen"}),
        ("PATCH", "/api/v1/companies/{company}", {"createdBy": "{victim}"}),
        (
            "POST",
            "/api/v1/companies/{company}/organizations",
            {"name": "x", "companyId": "{other_company}"},
        ),
        (
            "POST",
            "/api/v1/organizations/{organization}/projects",
            {"name": "x", "organizationId": "y", "companyId": "z"},
        ),
        ("PATCH", "/api/v1/projects/{project}", {"organizationId": "y"}),
        ("POST", "/api/v1/projects/{project}/workflows", {"name": "x", "status": "deployed"}),
        (
            "POST",
            "/api/v1/projects/{project}/workflows",
            {"name": "x", "projectId": "{other_project}"},
        ),
        ("POST", "/api/v1/projects/{project}/workflows", {"name": "x", "latestVersion": 7}),
        ("PATCH", "/api/v1/workflows/{workflow}", {"status": "deployed"}),
        ("PATCH", "/api/v1/workflows/{workflow}", {"activeVersion": 1}),
        ("PATCH", "/api/v1/workflows/{workflow}", {"projectId": "{other_project}"}),
        (
            "PUT",
            "/api/v1/workflows/{workflow}/definition",
            {"definition": "{definition}", "version": 9},
        ),
        (
            "PUT",
            "/api/v1/workflows/{workflow}/definition",
            {"definition": "{definition}", "authorId": "{victim}"},
        ),
        ("POST", "/api/v1/workflows/{workflow}/versions/1/restore", {"number": 5}),
        ("POST", "/api/v1/workflows/{workflow}/deploy", {"deployedBy": "{victim}"}),
        (
            "POST",
            "/api/v1/projects/{project}/api-keys",
            {"name": "k", "projectId": "{other_project}"},
        ),
        ("POST", "/api/v1/projects/{project}/api-keys", {"name": "k", "role": "owner"}),
        (
            "POST",
            "/api/v1/projects/{project}/members",
            {"email": "{victim_email}", "role": "viewer", "scopeId": "x"},
        ),
        ("PATCH", "/api/v1/projects/{project}/members/{victim}", {"role": "viewer", "userId": "x"}),
        (
            "POST",
            "/api/v1/projects/{project}/invitations",
            {"email": "a@example.com", "companyId": "{other_company}"},
        ),
        (
            "POST",
            "/api/v1/projects/{project}/members",
            {"email": "{victim_email}", "role": "superuser"},
        ),
    ],
)
async def test_bodies_cannot_set_protected_fields(
    api: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    owner, other, mine, theirs, victim, wf = await setup(api)
    values = {
        "company": mine.company,
        "organization": mine.organization,
        "project": mine.project,
        "workflow": wf["id"],
        "victim": victim.id,
        "victim_email": victim.email,
        "other_company": theirs.company,
        "other_project": theirs.project,
    }

    def expand(value: Any) -> Any:
        if value == "{definition}":
            return simple_definition("Changed")
        if isinstance(value, str):
            for k, v in values.items():
                value = value.replace("{" + k + "}", v)
        return value

    before = (await owner.get(f"/api/v1/workflows/{wf['id']}")).json()
    r = await owner.request(method, expand(path), json={k: expand(v) for k, v in body.items()})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    offending = [k for k in body if k not in ("name", "email", "definition", "role")] or ["role"]
    assert any(k in r.text for k in offending)
    after = (await owner.get(f"/api/v1/workflows/{wf['id']}")).json()
    assert after == before
    assert (await other.get(f"/api/v1/projects/{theirs.project}/workflows")).json()["items"] == []
    members = (await owner.get(f"/api/v1/projects/{mine.project}/members")).json()["items"]
    assert {m["role"] for m in members} == {"viewer"}
