"""The hierarchy, unique slugs per parent, role inheritance, memberships and the owner
rules, invitations by link."""

from __future__ import annotations

import logging

import pytest
from admin_api_testkit import Api

pytestmark = pytest.mark.integration


class TestHierarchy:
    async def test_crud_and_slugs_unique_per_parent(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        a = await owner.post(
            f"/api/v1/companies/{t.company}/organizations",
            json={"name": "Sales Team", "slug": "sales"},
        )
        assert a.status_code == 201 and a.json()["slug"] == "sales"
        dup = await owner.post(
            f"/api/v1/companies/{t.company}/organizations", json={"name": "Other", "slug": "sales"}
        )
        assert dup.status_code == 409 and "sales" in dup.json()["detail"]
        derived = await owner.post(
            f"/api/v1/companies/{t.company}/organizations", json={"name": "Sales Team"}
        )
        assert derived.json()["slug"] == "sales-team"
        again = await owner.post(
            f"/api/v1/companies/{t.company}/organizations", json={"name": "Sales  Team!"}
        )
        assert again.json()["slug"] == "sales-team-2"
        # the same slug under another company is fine
        other = await owner.post("/api/v1/companies", json={"name": "Second"})
        ok = await owner.post(
            f"/api/v1/companies/{other.json()['id']}/organizations",
            json={"name": "x", "slug": "sales"},
        )
        assert ok.status_code == 201
        rename = await owner.patch(
            f"/api/v1/organizations/{a.json()['id']}", json={"name": "Sales EMEA"}
        )
        assert rename.json()["name"] == "Sales EMEA" and rename.json()["slug"] == "sales"
        clash = await owner.patch(
            f"/api/v1/organizations/{a.json()['id']}", json={"slug": "sales-team"}
        )
        assert clash.status_code == 409
        listed = (
            await owner.get(f"/api/v1/companies/{t.company}/organizations", params={"limit": 2})
        ).json()
        assert len(listed["items"]) == 2 and listed["nextCursor"]
        rest = (
            await owner.get(
                f"/api/v1/companies/{t.company}/organizations",
                params={"limit": 2, "cursor": listed["nextCursor"]},
            )
        ).json()
        ids = [o["id"] for o in listed["items"] + rest["items"]]
        assert len(ids) == len(set(ids)) == 4 and rest["nextCursor"] is None
        assert (await owner.delete(f"/api/v1/organizations/{a.json()['id']}")).status_code == 204
        assert (await owner.get(f"/api/v1/organizations/{a.json()['id']}")).status_code == 404

    async def test_names_and_slugs_are_validated(self, api: Api) -> None:
        owner = await api.user()
        for body in (
            {"name": ""},
            {"name": "x" * 201},
            {"name": "ok", "slug": "Not Valid"},
            {"name": "ok", "slug": "-x"},
            {"name": "bad\x00name"},
        ):
            r = await owner.post("/api/v1/companies", json=body)
            assert r.status_code == 422, body
        assert (await owner.get("/api/v1/companies", params={"cursor": "!!!"})).status_code == 400

    async def test_deleting_a_company_removes_everything_inside(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        assert (await owner.delete(f"/api/v1/companies/{t.company}")).status_code == 204
        for path in (
            f"/api/v1/projects/{t.project}",
            f"/api/v1/workflows/{wf['id']}",
            f"/api/v1/organizations/{t.organization}",
        ):
            assert (await owner.get(path)).status_code == 404


class TestInheritance:
    async def test_roles_flow_down_not_up(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        org_editor = await api.member(owner, "organization", t.organization, "editor")
        project_viewer = await api.member(owner, "project", t.project, "viewer")
        assert (await org_editor.get(f"/api/v1/projects/{t.project}")).status_code == 200
        assert (
            await org_editor.post(f"/api/v1/projects/{t.project}/workflows", json={"name": "w"})
        ).status_code == 201
        assert (await org_editor.get(f"/api/v1/companies/{t.company}")).status_code == 404
        assert (
            await project_viewer.get(f"/api/v1/organizations/{t.organization}")
        ).status_code == 404
        assert (
            await project_viewer.post(f"/api/v1/projects/{t.project}/workflows", json={"name": "w"})
        ).status_code == 403
        visible = (await project_viewer.get("/api/v1/projects")).json()["items"]
        assert [p["id"] for p in visible] == [t.project]
        # the highest role wins: a project admin who is an org editor is admin in the project
        await owner.post(
            f"/api/v1/projects/{t.project}/members", json={"userId": org_editor.id, "role": "admin"}
        )
        keys = await org_editor.get(f"/api/v1/projects/{t.project}/api-keys")
        assert keys.status_code == 200


class TestMembers:
    async def test_admins_manage_members_but_not_owners(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        admin = await api.member(owner, "company", t.company, "admin")
        newcomer = await api.user("new")
        add = await admin.post(
            f"/api/v1/companies/{t.company}/members",
            json={"email": newcomer.email, "role": "editor"},
        )
        assert add.status_code == 201 and add.json()["role"] == "editor"
        assert (
            await admin.post(
                f"/api/v1/companies/{t.company}/members",
                json={"email": newcomer.email, "role": "viewer"},
            )
        ).status_code == 409
        promote = await admin.patch(
            f"/api/v1/companies/{t.company}/members/{newcomer.id}", json={"role": "owner"}
        )
        assert promote.status_code == 403
        demote_owner = await admin.patch(
            f"/api/v1/companies/{t.company}/members/{owner.id}", json={"role": "viewer"}
        )
        assert demote_owner.status_code == 403
        assert (
            await admin.delete(f"/api/v1/companies/{t.company}/members/{owner.id}")
        ).status_code == 403
        assert (
            await admin.delete(f"/api/v1/companies/{t.company}/members/{newcomer.id}")
        ).status_code == 204
        unknown = await admin.post(
            f"/api/v1/companies/{t.company}/members",
            json={"email": "ghost@example.com", "role": "viewer"},
        )
        assert unknown.status_code == 404 and "invitation" in unknown.json()["detail"]

    async def test_last_owner_cannot_be_removed_and_ownership_transfers(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        r = await owner.delete(f"/api/v1/companies/{t.company}/members/{owner.id}")
        assert r.status_code == 409 and "last owner" in r.json()["detail"]
        r = await owner.patch(
            f"/api/v1/companies/{t.company}/members/{owner.id}", json={"role": "admin"}
        )
        assert r.status_code == 409
        heir = await api.member(owner, "company", t.company, "admin", "heir")
        moved = await owner.post(
            f"/api/v1/companies/{t.company}/transfer-ownership", json={"userId": heir.id}
        )
        assert moved.status_code == 200 and moved.json()["role"] == "owner"
        members = {
            m["userId"]: m["role"]
            for m in (await heir.get(f"/api/v1/companies/{t.company}/members")).json()["items"]
        }
        assert members == {heir.id: "owner", owner.id: "admin"}
        assert (await owner.delete(f"/api/v1/companies/{t.company}")).status_code == 403
        assert (
            await heir.post(
                f"/api/v1/companies/{t.company}/transfer-ownership", json={"userId": heir.id}
            )
        ).status_code == 409


class TestInvitations:
    async def test_invite_accept_by_link(self, api: Api, caplog: pytest.LogCaptureFixture) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        invitee = await api.user("invitee")
        r = await owner.post(
            f"/api/v1/projects/{t.project}/invitations",
            json={"email": invitee.email.upper(), "role": "editor"},
        )
        assert r.status_code == 201
        body = r.json()
        assert body["acceptUrl"].endswith(body["token"]) and body["email"] == invitee.email
        pending = (await owner.get(f"/api/v1/projects/{t.project}/invitations")).json()["items"]
        assert [i["id"] for i in pending] == [body["id"]] and "token" not in pending[0]
        stranger = await api.user("stranger")
        wrong = await stranger.post("/api/v1/invitations/accept", json={"token": body["token"]})
        assert wrong.status_code == 403
        accepted = await invitee.post("/api/v1/invitations/accept", json={"token": body["token"]})
        assert accepted.status_code == 200 and accepted.json()["acceptedAt"]
        assert (
            await invitee.post(f"/api/v1/projects/{t.project}/workflows", json={"name": "w"})
        ).status_code == 201
        reused = await invitee.post("/api/v1/invitations/accept", json={"token": body["token"]})
        assert reused.status_code == 404
        assert (await owner.get(f"/api/v1/projects/{t.project}/invitations")).json()["items"] == []

    async def test_revoked_invitations_cannot_be_accepted(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        invitee = await api.user("invitee")
        body = (
            await owner.post(
                f"/api/v1/companies/{t.company}/invitations", json={"email": invitee.email}
            )
        ).json()
        assert (await owner.delete(f"/api/v1/invitations/{body['id']}")).status_code == 204
        r = await invitee.post("/api/v1/invitations/accept", json={"token": body["token"]})
        assert r.status_code == 404
        admin = await api.member(owner, "company", t.company, "admin")
        owner_invite = await admin.post(
            f"/api/v1/companies/{t.company}/invitations",
            json={"email": "x@example.com", "role": "owner"},
        )
        assert owner_invite.status_code == 403


def test_logging_is_configured() -> None:
    assert logging.getLogger("admin_api.tenancy")


async def test_hostile_ids_are_4xx_on_every_backend(api: Api) -> None:
    owner = await api.user()
    t = await api.tenancy(owner)
    for method, path, body in (
        ("PATCH", f"/api/v1/companies/{t.company}/members/a%00b", {"role": "viewer"}),
        ("DELETE", f"/api/v1/projects/{t.project}/members/x%00", None),
        ("POST", f"/api/v1/projects/{t.project}/members", {"userId": "a\x00b", "role": "viewer"}),
        ("POST", f"/api/v1/companies/{t.company}/transfer-ownership", {"userId": "\x00"}),
        ("GET", "/api/v1/companies/a%00b", None),
        ("GET", "/api/v1/workflows/%00", None),
    ):
        r = await owner.request(method, path, **({"json": body} if body is not None else {}))
        assert 400 <= r.status_code < 500, (path, r.text)
