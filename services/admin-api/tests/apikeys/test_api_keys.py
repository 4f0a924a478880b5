"""API keys: shown once, stored hashed, usable with their role inside their project only,
last-used time, revocation; introspection and authorization checks for other services."""

from __future__ import annotations

import hashlib

import pytest
from admin_api_testkit import Api

pytestmark = pytest.mark.integration
DAPR = {"dapr-caller-app-id": "workflow-orchestrator"}


class TestApiKeys:
    async def test_lifecycle(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        created = await owner.post(
            f"/api/v1/projects/{t.project}/api-keys", json={"name": "ci", "role": "editor"}
        )
        assert created.status_code == 201
        key = created.json()
        secret = key.pop("key")
        assert secret.startswith(key["prefix"] + "_") and key["lastUsedAt"] is None
        listed = (await owner.get(f"/api/v1/projects/{t.project}/api-keys")).json()["items"]
        assert secret not in str(listed) and listed[0]["prefix"] == key["prefix"]
        as_key = {"authorization": f"Bearer {secret}"}
        wf = await api.http.post(
            f"/api/v1/projects/{t.project}/workflows", headers=as_key, json={"name": "by key"}
        )
        assert wf.status_code == 201 and wf.json()["createdBy"] == key["id"]
        x_api_key = await api.http.get(
            f"/api/v1/projects/{t.project}/workflows", headers={"x-api-key": secret}
        )
        assert x_api_key.status_code == 200
        deploy = await api.http.post(
            f"/api/v1/workflows/{wf.json()['id']}/deploy", headers=as_key, json={}
        )
        assert deploy.status_code == 403  # an editor key cannot deploy
        assert (
            await api.http.get(f"/api/v1/companies/{t.company}", headers=as_key)
        ).status_code == 404
        assert (await api.http.get("/api/v1/auth/me", headers=as_key)).status_code == 403
        used = (await owner.get(f"/api/v1/projects/{t.project}/api-keys")).json()["items"][0]
        assert used["lastUsedAt"] is not None
        assert (await owner.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
        revoked = await api.http.get(f"/api/v1/projects/{t.project}/workflows", headers=as_key)
        assert revoked.status_code == 401
        events = (
            await owner.get(f"/api/v1/projects/{t.project}/audit", params={"action": "apikey."})
        ).json()["items"]
        assert [e["action"] for e in events] == ["apikey.revoke", "apikey.create"]
        assert secret not in str(events)

    async def test_stored_hashed_and_keys_cannot_manage_identities(self, api: Api) -> None:
        from sqlalchemy import create_engine, text

        from service_kit.db import sync_url

        owner = await api.user()
        t = await api.tenancy(owner)
        secret = (
            await owner.post(
                f"/api/v1/projects/{t.project}/api-keys", json={"name": "a", "role": "admin"}
            )
        ).json()["key"]
        engine = create_engine(sync_url(api.service.settings.resolved_database_url()))
        with engine.connect() as conn:
            hashes = [r[0] for r in conn.execute(text("SELECT token_hash FROM api_keys"))]
        engine.dispose()
        assert hashlib.sha256(secret.encode()).hexdigest() in hashes and secret not in hashes
        as_key = {"authorization": f"Bearer {secret}"}
        more = await api.http.post(
            f"/api/v1/projects/{t.project}/api-keys", headers=as_key, json={"name": "b"}
        )
        invite = await api.http.post(
            f"/api/v1/projects/{t.project}/invitations",
            headers=as_key,
            json={"email": "a@example.com"},
        )
        assert more.status_code == 403 and invite.status_code == 403
        assert (await api.http.get("/api/v1/companies", headers=as_key)).json()["items"] == []
        assert (
            await api.http.post("/api/v1/companies", headers=as_key, json={"name": "x"})
        ).status_code == 403

    async def test_expiry_and_validation(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        for body in (
            {"name": "x", "role": "owner"},
            {"name": "x", "expiresInDays": 0},
            {"name": ""},
        ):
            assert (
                await owner.post(f"/api/v1/projects/{t.project}/api-keys", json=body)
            ).status_code == 422
        ok = await owner.post(
            f"/api/v1/projects/{t.project}/api-keys", json={"name": "x", "expiresInDays": 30}
        )
        assert ok.json()["expiresAt"] is not None
        for bogus in ("wfb_nope_nope", "wfb_" + "a" * 300, "plain-garbage"):
            assert (
                await api.http.get("/api/v1/projects", headers={"x-api-key": bogus})
            ).status_code == 401


class TestForOtherServices:
    async def test_introspection(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        secret = (
            await owner.post(
                f"/api/v1/projects/{t.project}/api-keys", json={"name": "k", "role": "viewer"}
            )
        ).json()
        user_info = await api.http.post(
            "/api/v1/auth/introspect", headers=DAPR, json={"token": owner.tokens["accessToken"]}
        )
        assert user_info.json() == {
            "active": True,
            "sub": owner.id,
            "kind": "user",
            "projectId": None,
            "role": None,
            "exp": user_info.json()["exp"],
        }
        key_info = await api.http.post(
            "/api/v1/auth/introspect", headers=DAPR, json={"token": secret["key"]}
        )
        assert key_info.json()["kind"] == "api_key" and key_info.json()["projectId"] == t.project
        assert key_info.json()["role"] == "viewer"
        for token in (
            "garbage",
            owner.tokens["refreshToken"],
            owner.tokens["accessToken"][:-4] + "AAAA",
        ):
            r = await api.http.post("/api/v1/auth/introspect", headers=DAPR, json={"token": token})
            assert r.json()["active"] is False

    async def test_only_dapr_callers_from_allowed_apps(self, api: Api) -> None:
        owner = await api.user()
        body = {"token": owner.tokens["accessToken"]}
        assert (await api.http.post("/api/v1/auth/introspect", json=body)).status_code == 401
        other_app = await api.http.post(
            "/api/v1/auth/introspect", headers={"dapr-caller-app-id": "evil"}, json=body
        )
        assert other_app.status_code == 403
        with_user_token = await api.http.post(
            "/api/v1/auth/introspect", headers=owner.headers, json=body
        )
        assert with_user_token.status_code == 401

    async def test_authz_check(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        viewer = await api.member(owner, "organization", t.organization, "viewer")
        wf = await api.workflow(owner, t.project)

        async def check(
            token: str, action: str, kind: str = "workflow", rid: str = wf["id"]
        ) -> dict[str, object]:
            r = await api.http.post(
                "/api/v1/authz/check",
                headers={"dapr-caller-app-id": "builder-bff"},
                json={"token": token, "resource": {"type": kind, "id": rid}, "action": action},
            )
            assert r.status_code == 200, r.text
            return dict(r.json())

        tenant = {"companyId": t.company, "organizationId": t.organization, "projectId": t.project}
        assert await check(viewer.tokens["accessToken"], "workflow.read") == {
            "allowed": True,
            "role": "viewer",
            "tenant": tenant,
        }
        assert (await check(viewer.tokens["accessToken"], "workflow.run"))["allowed"] is False
        assert (await check(owner.tokens["accessToken"], "workflow.deploy"))["allowed"] is True
        assert (await check(viewer.tokens["accessToken"], "tenant.read", "company", t.company))[
            "allowed"
        ] is False
        assert await check("garbage", "workflow.read") == {
            "allowed": False,
            "role": None,
            "tenant": None,
        }
        r = await api.http.post(
            "/api/v1/authz/check",
            headers={"dapr-caller-app-id": "builder-bff"},
            json={"token": "x", "resource": {"type": "workflow", "id": "x"}, "action": "fly"},
        )
        assert r.status_code == 422

    async def test_app_api_token_is_required_when_configured(self, tmp_path: object) -> None:
        from pathlib import Path

        import httpx
        from admin_api_testkit import fresh_service

        with fresh_service("sqlite", Path(str(tmp_path)), app_api_token="s3cret-app-token") as svc:
            async with httpx.AsyncClient(base_url=svc.url) as http:
                body = {"token": "x"}
                forged = await http.post("/api/v1/auth/introspect", headers=DAPR, json=body)
                good = await http.post(
                    "/api/v1/auth/introspect",
                    headers={**DAPR, "dapr-api-token": "s3cret-app-token"},
                    json=body,
                )
        assert forged.status_code == 401 and good.status_code == 200
