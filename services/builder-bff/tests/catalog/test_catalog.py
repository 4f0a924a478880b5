from __future__ import annotations

import pytest

from ..conftest import Platform, definition

pytestmark = pytest.mark.unit


class TestFunctions:
    async def test_catalog_has_camelcase_schemas_and_filters(self, platform: Platform) -> None:
        await platform.login()
        platform.runner.functions.append(
            {"slug": "slack/send-message", "name": "Send", "plugin_id": "slack"}
        )
        items = (await platform.client.get("/api/functions")).json()["items"]
        http = next(f for f in items if f["slug"] == "system/http-request")
        assert http["pluginId"] == "system" and http["inputSchema"]["required"] == ["url"]
        assert [
            f["slug"]
            for f in (await platform.client.get("/api/functions?plugin=slack")).json()["items"]
        ] == ["slack/send-message"]
        assert [
            f["slug"] for f in (await platform.client.get("/api/functions?q=http")).json()["items"]
        ] == ["system/http-request"]

    async def test_registration_needs_the_admin_role(self, platform: Platform) -> None:
        await platform.login(role="editor")
        fn = {
            "slug": "custom/double",
            "name": "Double",
            "execution_type": "oci",
            "image_ref": "reg/x:1",
        }
        r = await platform.client.post(
            "/api/functions?projectId=p1", json=fn, headers=platform.csrf()
        )
        assert r.status_code == 403 and r.json()["action"] == "tenant.update"

    async def test_registration_as_admin_reaches_the_registry(self, platform: Platform) -> None:
        await platform.login(role="admin")
        fn = {
            "slug": "custom/double",
            "name": "Double",
            "execution_type": "oci",
            "image_ref": "reg/x:1",
        }
        r = await platform.client.post(
            "/api/functions?projectId=p1", json=fn, headers=platform.csrf()
        )
        assert r.status_code == 201 and r.json()["executionType"] == "oci"
        slugs = [f["slug"] for f in (await platform.client.get("/api/functions")).json()["items"]]
        assert "custom/double" in slugs
        bad = await platform.client.post(
            "/api/functions?projectId=p1", json={"slug": "nope"}, headers=platform.csrf()
        )
        assert bad.status_code == 422 and bad.json()["detail"] == "slug must be plugin/name"

    async def test_catalog_follows_pagination(self, platform: Platform) -> None:
        await platform.login()
        platform.runner.functions += [
            {"slug": f"bulk/f{i:04d}", "name": f"F{i}", "plugin_id": "bulk"} for i in range(1200)
        ]
        items = (await platform.client.get("/api/functions")).json()["items"]
        assert len(items) == 1201

    async def test_registry_down_is_503(self, platform: Platform) -> None:
        await platform.login()
        platform.app.state.bff.settings.function_runner_app_id = "gone"
        r = await platform.client.get("/api/functions")
        assert r.status_code == 502


class TestValidation:
    async def test_valid_definition(self, platform: Platform) -> None:
        await platform.login()
        r = await platform.client.post(
            "/api/validate", json={"definition": definition()}, headers=platform.csrf()
        )
        assert r.json() == {"ok": True, "issues": []}

    async def test_issues_name_the_node_and_field(self, platform: Platform) -> None:
        await platform.login()
        d = definition()
        del d["nodes"][1]["config"]["url"]
        d["nodes"].append(
            {"id": "x", "type": "action", "label": "X", "config": {"actionId": "nope/missing"}}
        )
        issues = (
            await platform.client.post(
                "/api/validate", json={"definition": d}, headers=platform.csrf()
            )
        ).json()["issues"]
        by_node = {(i["nodeId"], i["code"]) for i in issues}
        assert ("a", "missing_input") in by_node or any(i["nodeId"] == "a" for i in issues)
        assert any(i["nodeId"] == "x" and "nope/missing" in i["message"] for i in issues)

    async def test_shape_errors_are_issues_not_500(self, platform: Platform) -> None:
        await platform.login()
        r = await platform.client.post(
            "/api/validate", json={"definition": {"nodes": "no"}}, headers=platform.csrf()
        )
        assert r.status_code == 200 and r.json()["ok"] is False


class TestCredentials:
    async def test_credentials_are_project_scoped_and_write_only(self, platform: Platform) -> None:
        await platform.login(role="admin")
        body = {"name": "openai", "integrationType": "openai", "values": {"apiKey": "sk-secret"}}
        r = await platform.client.post(
            "/api/projects/p1/credentials", json=body, headers=platform.csrf()
        )
        assert r.status_code == 201
        assert "sk-secret" not in r.text
        assert platform.runner.credentials[0]["tenant_id"] == "p1"
        listed = (await platform.client.get("/api/projects/p1/credentials")).json()["items"]
        assert [c["name"] for c in listed] == ["openai"]
        assert "sk-secret" not in str(listed)
        assert (await platform.client.get("/api/projects/p2/credentials")).status_code == 404

    async def test_credential_names_are_validated(self, platform: Platform) -> None:
        await platform.login(role="admin")
        bad = {"name": "Bad Name", "integrationType": "openai", "values": {"a": "b"}}
        r = await platform.client.post(
            "/api/projects/p1/credentials", json=bad, headers=platform.csrf()
        )
        assert r.status_code == 422
        assert platform.runner.credentials == []

    async def test_editors_cannot_write_credentials(self, platform: Platform) -> None:
        await platform.login(role="editor")
        body = {"name": "x", "integrationType": "x", "values": {"a": "b"}}
        r = await platform.client.post(
            "/api/projects/p1/credentials", json=body, headers=platform.csrf()
        )
        assert r.status_code == 403
        assert platform.runner.credentials == []
