"""The audit log: what is recorded, who may read it, filters and pagination, events from
other services."""

from __future__ import annotations

import pytest
from admin_api_testkit import Api

pytestmark = pytest.mark.integration


async def test_actions_are_recorded_with_actor_tenant_and_client(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    wf = await api.workflow(owner, t.project)
    await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={})
    items = (await owner.get(f"/api/v1/companies/{t.company}/audit")).json()["items"]
    actions = [e["action"] for e in items]
    assert actions == [
        "workflow.deploy",
        "workflow.create",
        "project.create",
        "organization.create",
        "company.create",
    ]
    deploy = items[0]
    assert (
        deploy["actorId"] == owner.id
        and deploy["actorLabel"] == owner.email
        and deploy["actorKind"] == "user"
    )
    assert (deploy["companyId"], deploy["organizationId"], deploy["projectId"]) == (
        t.company,
        t.organization,
        t.project,
    )
    assert deploy["resourceType"] == "workflow" and deploy["resourceId"] == wf["id"]
    assert (
        deploy["ip"] == "127.0.0.1"
        and deploy["userAgent"].startswith("python-httpx")
        and deploy["success"] is True
    )
    project_only = (await owner.get(f"/api/v1/projects/{t.project}/audit")).json()["items"]
    assert [e["action"] for e in project_only] == [
        "workflow.deploy",
        "workflow.create",
        "project.create",
    ]


async def test_denied_attempts_are_recorded(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    viewer = await api.member(owner, "project", t.project, "viewer")
    wf = await api.workflow(owner, t.project)
    assert (await viewer.post(f"/api/v1/workflows/{wf['id']}/deploy", json={})).status_code == 403
    denied = (
        await owner.get(f"/api/v1/projects/{t.project}/audit", params={"success": "false"})
    ).json()["items"]
    assert len(denied) == 1
    assert denied[0]["action"] == "workflow.deploy" and denied[0]["actorId"] == viewer.id
    assert denied[0]["detail"]["role"] == "viewer"


async def test_only_admins_and_owners_read_it(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    for role, expected in (("viewer", 403), ("editor", 403), ("admin", 200)):
        member = await api.member(owner, "company", t.company, role, role)
        assert (await member.get(f"/api/v1/companies/{t.company}/audit")).status_code == expected


async def test_filters_and_pagination(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    for i in range(5):
        await owner.post(f"/api/v1/projects/{t.project}/workflows", json={"name": f"w{i}"})
    first = (
        await owner.get(
            f"/api/v1/projects/{t.project}/audit", params={"action": "workflow.create", "limit": 2}
        )
    ).json()
    second = (
        await owner.get(
            f"/api/v1/projects/{t.project}/audit",
            params={"action": "workflow.create", "limit": 2, "cursor": first["nextCursor"]},
        )
    ).json()
    third = (
        await owner.get(
            f"/api/v1/projects/{t.project}/audit",
            params={"action": "workflow.create", "limit": 2, "cursor": second["nextCursor"]},
        )
    ).json()
    names = [e["detail"]["name"] for page in (first, second, third) for e in page["items"]]
    assert names == ["w4", "w3", "w2", "w1", "w0"] and third["nextCursor"] is None
    by_actor = (
        await owner.get(f"/api/v1/projects/{t.project}/audit", params={"actorId": owner.id})
    ).json()["items"]
    assert len(by_actor) == 6
    future = (
        await owner.get(
            f"/api/v1/projects/{t.project}/audit", params={"since": "2999-01-01T00:00:00Z"}
        )
    ).json()
    assert future["items"] == []
    bad = await owner.get(f"/api/v1/projects/{t.project}/audit", params={"action": "DROP TABLE"})
    assert bad.status_code == 422


async def test_other_services_record_approvals(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    event = {
        "action": "execution.approval",
        "actorId": owner.id,
        "actorLabel": owner.email,
        "resourceType": "execution",
        "resourceId": "inst-1",
        "tenant": {
            "companyId": t.company,
            "organizationId": t.organization,
            "projectId": t.project,
        },
        "detail": {"approved": True, "nodeId": "gate"},
    }
    refused = await api.http.post("/api/v1/internal/audit-events", json=event)
    assert refused.status_code == 401
    r = await api.http.post(
        "/api/v1/internal/audit-events",
        headers={"dapr-caller-app-id": "workflow-orchestrator"},
        json=event,
    )
    assert r.status_code == 201
    items = (
        await owner.get(f"/api/v1/projects/{t.project}/audit", params={"action": "execution."})
    ).json()["items"]
    assert items[0]["detail"] == {
        "approved": True,
        "nodeId": "gate",
        "recordedBy": "workflow-orchestrator",
    }
