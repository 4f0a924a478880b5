from __future__ import annotations

import pytest

from ..conftest import Platform

pytestmark = pytest.mark.unit


class TestTenants:
    async def test_tree_lists_only_the_callers_projects_with_roles(
        self, platform: Platform
    ) -> None:
        await platform.login(role="editor", project="p1")
        tree = (await platform.client.get("/api/tenants")).json()["companies"]
        assert tree[0]["name"] == "Acme"
        assert tree[0]["organizations"][0]["role"] is None  # no company or org membership
        assert tree[0]["organizations"][0]["projects"] == [
            {"id": "p1", "name": "P1", "role": "editor"}
        ]

    async def test_invited_project_member_sees_the_project_without_its_company(
        self, platform: Platform
    ) -> None:
        await platform.login(role="admin", project="p1")
        uid = next(iter(platform.admin.roles))[0]
        platform.admin.shared[(uid, "p9")] = "editor"
        tree = (await platform.client.get("/api/tenants")).json()["companies"]
        assert [c["id"] for c in tree] == ["c1", "c2"]
        assert tree[0]["organizations"][0]["projects"] == [
            {"id": "p1", "name": "P1", "role": "admin"}
        ]
        shared = tree[1]
        assert shared["name"] == "Shared with you" and shared["role"] is None
        assert shared["organizations"] == [
            {
                "id": "o2",
                "name": "Shared with you",
                "role": None,
                "projects": [{"id": "p9", "name": "P9", "slug": "p9", "role": "editor"}],
            }
        ]

    async def test_new_user_without_memberships_sees_nothing(self, platform: Platform) -> None:
        await platform.login(role=None)
        assert (await platform.client.get("/api/tenants")).json() == {"companies": []}


class TestWorkflows:
    async def test_list_shows_status_and_last_run(self, platform: Platform) -> None:
        await platform.login()
        platform.add_workflow("wf1", versions=1)
        platform.add_workflow("wf2", versions=1)
        platform.orchestrator.runs["r1"] = {
            "instanceId": "r1",
            "workflowId": "wf1",
            "runtimeStatus": "COMPLETED",
            "labels": {"projectId": "p1"},
        }
        items = (await platform.client.get("/api/projects/p1/workflows")).json()["items"]
        assert {w["id"]: (w["status"], (w["lastRun"] or {}).get("instanceId")) for w in items} == {
            "wf1": ("draft", "r1"),
            "wf2": ("draft", None),
        }

    async def test_list_survives_an_orchestrator_outage(self, platform: Platform) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        platform.orchestrator.fail_with = 503
        r = await platform.client.get("/api/projects/p1/workflows")
        assert r.status_code == 200 and r.json()["items"][0]["lastRun"] is None

    async def test_other_tenants_project_is_404(self, platform: Platform) -> None:
        await platform.login(project="p1")
        r = await platform.client.get("/api/projects/p2/workflows")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"


class TestAdminProxy:
    async def test_requests_pass_through_as_the_caller(self, platform: Platform) -> None:
        await platform.login()
        r = await platform.client.post(
            "/api/admin/projects/p1/workflows", json={"name": "Flow"}, headers=platform.csrf()
        )
        assert r.status_code == 201 and r.json()["projectId"] == "p1"
        method, path, headers = platform.admin.requests[-1]
        assert (method, path) == ("POST", "/api/v1/projects/p1/workflows")
        assert headers["authorization"].startswith("Bearer ")
        assert "x-forwarded-for" in headers

    async def test_problems_pass_through_unchanged(self, platform: Platform) -> None:
        await platform.login(role="viewer")
        r = await platform.client.post(
            "/api/admin/projects/p1/workflows", json={"name": "Flow"}, headers=platform.csrf()
        )
        assert r.status_code == 403 and r.json()["detail"] == "not allowed"
        r = await platform.client.get("/api/admin/workflows/nope")
        assert r.status_code == 404 and r.json()["detail"] == "workflow nope not found"

    async def test_only_builder_resources_are_exposed(self, platform: Platform) -> None:
        await platform.login()
        for path in (
            "/api/admin/auth/refresh",
            "/api/admin/users",
            "/api/admin/projects/../auth/me",
        ):
            r = await platform.client.get(path)
            assert r.status_code == 404, path

    async def test_needs_a_session(self, platform: Platform) -> None:
        assert (await platform.client.get("/api/admin/companies")).status_code == 401


class TestTriggerState:
    """The trigger state API of admin-api reaches the UI through the admin proxy, as the
    caller: admin-api decides by role (viewers read, admins reveal and rotate secrets)."""

    async def test_viewers_read_trigger_state_firings_and_webhook(self, platform: Platform) -> None:
        await platform.login(role="viewer")
        platform.add_workflow("wf1")
        platform.admin.triggers["wf1"] = [{"id": "t1", "nodeId": "t", "kind": "webhook"}]
        r = await platform.client.get("/api/admin/workflows/wf1/triggers")
        assert r.status_code == 200 and r.json()["items"][0]["kind"] == "webhook"
        r = await platform.client.get("/api/admin/workflows/wf1/triggers/firings?limit=5")
        assert r.status_code == 200 and r.json()["limit"] == "5"
        r = await platform.client.get("/api/admin/workflows/wf1/webhook")
        assert r.json() == {"path": "/hooks/wf1", "auth": "hmac", "hasSecret": True}

    async def test_only_admins_reveal_and_rotate_the_secret(self, platform: Platform) -> None:
        await platform.login(role="editor")
        platform.add_workflow("wf1")
        for path in ("webhook/secret", "webhook/secret/rotate"):
            r = await platform.client.post(
                f"/api/admin/workflows/wf1/{path}", headers=platform.csrf()
            )
            assert r.status_code == 403, path
        assert platform.admin.webhook_secret == "whsec-1"

    async def test_admins_reveal_and_rotate_uncached(self, platform: Platform) -> None:
        await platform.login(role="admin")
        platform.add_workflow("wf1")
        r = await platform.client.post(
            "/api/admin/workflows/wf1/webhook/secret", headers=platform.csrf()
        )
        assert r.json() == {"secret": "whsec-1"}
        assert r.headers["cache-control"] == "no-store"
        r = await platform.client.post(
            "/api/admin/workflows/wf1/webhook/secret/rotate", headers=platform.csrf()
        )
        assert r.json()["secret"] == platform.admin.webhook_secret != "whsec-1"

    async def test_secret_calls_need_the_csrf_token(self, platform: Platform) -> None:
        await platform.login(role="admin")
        platform.add_workflow("wf1")
        r = await platform.client.post("/api/admin/workflows/wf1/webhook/secret")
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]

    async def test_other_tenants_triggers_are_404(self, platform: Platform) -> None:
        await platform.login(role="owner", project="p1")
        platform.add_workflow("theirs", project="p2")
        for path in ("triggers", "triggers/firings", "webhook"):
            r = await platform.client.get(f"/api/admin/workflows/theirs/{path}")
            assert r.status_code == 404, path
