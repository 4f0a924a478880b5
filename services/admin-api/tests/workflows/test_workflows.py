"""Workflows: validation with node ids, immutable versions with hashes, diff, restore,
the lifecycle, run now on the orchestrator, import/export."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml
from admin_api_testkit import Api, FakeOrchestrator, simple_definition

pytestmark = pytest.mark.integration


def canonical_sha(definition: dict[str, Any]) -> str:
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class TestValidation:
    async def test_invalid_definitions_list_every_problem_with_node_ids(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        bad = simple_definition()
        bad["nodes"].append({"id": "mystery", "type": "teleport", "config": {}})
        bad["nodes"][1]["config"]["message"] = "{{Nowhere.value}}"
        bad["edges"].append({"id": "e2", "source": "hello", "target": "ghost"})
        r = await owner.post(
            f"/api/v1/projects/{t.project}/workflows", json={"name": "bad", "definition": bad}
        )
        assert r.status_code == 422
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        node_ids = {e.get("nodeId") for e in problem["errors"]}
        assert {"mystery", "hello"} <= node_ids
        assert any(e.get("edgeId") == "e2" for e in problem["errors"])
        assert len(problem["errors"]) >= 3
        assert (await owner.get(f"/api/v1/projects/{t.project}/workflows")).json()["items"] == []

    async def test_shape_errors_are_422_not_500(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        for definition in ({"nodes": "nope"}, {"nodes": [{"id": 3}]}, {}):
            r = await owner.put(
                f"/api/v1/workflows/{wf['id']}/definition", json={"definition": definition}
            )
            assert r.status_code == 422, r.text


class TestVersions:
    async def test_changed_saves_create_versions_unchanged_saves_do_not(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        assert wf["latestVersion"] == 1 and wf["status"] == "draft"
        same = await owner.put(
            f"/api/v1/workflows/{wf['id']}/definition", json={"definition": simple_definition()}
        )
        assert (
            same.status_code == 200
            and same.json()["created"] is False
            and same.json()["version"]["number"] == 1
        )
        # key order and whitespace do not matter: canonical form
        reordered = json.loads(
            json.dumps(simple_definition()), object_pairs_hook=lambda p: dict(reversed(p))
        )
        assert (
            await owner.put(
                f"/api/v1/workflows/{wf['id']}/definition", json={"definition": reordered}
            )
        ).status_code == 200
        changed = await owner.put(
            f"/api/v1/workflows/{wf['id']}/definition",
            json={"definition": simple_definition("Greet"), "message": "rename step"},
        )
        assert changed.status_code == 201
        v2 = changed.json()["version"]
        assert (
            v2["number"] == 2
            and v2["message"] == "rename step"
            and v2["authorLabel"] == owner.email
        )
        full = (await owner.get(f"/api/v1/workflows/{wf['id']}/versions/2")).json()
        assert full["definition"]["id"] == wf["id"]  # the saved workflow's id
        assert full["sha256"] == canonical_sha(full["definition"])
        listed = (await owner.get(f"/api/v1/workflows/{wf['id']}/versions")).json()["items"]
        assert [v["number"] for v in listed] == [2, 1]
        assert (await owner.get(f"/api/v1/workflows/{wf['id']}/versions/9")).status_code == 404

    async def test_diff_between_versions(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        second = simple_definition("Greet", {"message": "hello there", "level": "info"})
        second["nodes"].append(
            {"id": "end", "type": "action", "label": "End", "config": {"actionId": "system/log"}}
        )
        second["edges"].append({"id": "e2", "source": "hello", "target": "end"})
        await owner.put(f"/api/v1/workflows/{wf['id']}/definition", json={"definition": second})
        diff = (
            await owner.get(f"/api/v1/workflows/{wf['id']}/diff", params={"from": 1, "to": 2})
        ).json()
        assert [n["id"] for n in diff["nodes"]["added"]] == ["end"]
        assert diff["nodes"]["removed"] == []
        (changed,) = diff["nodes"]["changed"]
        assert changed["id"] == "hello"
        assert {f["field"]: (f["from"], f["to"]) for f in changed["fields"]} == {
            "label": ("Say hello", "Greet")
        }
        config = {c["field"]: c for c in changed["config"]}
        assert config["message"]["change"] == "changed" and config["message"]["to"] == "hello there"
        assert config["level"]["change"] == "added"
        assert [e["id"] for e in diff["edges"]["added"]] == ["e2"]
        back = (
            await owner.get(f"/api/v1/workflows/{wf['id']}/diff", params={"from": 2, "to": 1})
        ).json()
        assert [n["id"] for n in back["nodes"]["removed"]] == ["end"]
        assert (
            await owner.get(f"/api/v1/workflows/{wf['id']}/diff", params={"from": 1, "to": 7})
        ).status_code == 404

    async def test_restore_creates_a_new_version(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        await owner.put(
            f"/api/v1/workflows/{wf['id']}/definition",
            json={"definition": simple_definition("Two")},
        )
        r = await owner.post(f"/api/v1/workflows/{wf['id']}/versions/1/restore", json={})
        assert r.status_code == 201
        v3 = r.json()["version"]
        assert (
            v3["number"] == 3
            and v3["restoredFrom"] == 1
            and "restore of version 1" in v3["message"]
        )
        one = (await owner.get(f"/api/v1/workflows/{wf['id']}/versions/1")).json()
        three = (await owner.get(f"/api/v1/workflows/{wf['id']}/versions/3")).json()
        assert one["definition"] == three["definition"] and one["sha256"] == three["sha256"]
        noop = await owner.post(f"/api/v1/workflows/{wf['id']}/versions/3/restore", json={})
        assert noop.status_code == 200 and noop.json()["created"] is False

    async def test_versions_are_immutable_in_the_database(self, api: Api) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import DBAPIError

        from service_kit.db import sync_url

        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        engine = create_engine(sync_url(api.service.settings.resolved_database_url()))
        try:
            with engine.begin() as conn, pytest.raises(DBAPIError, match="immutable"):
                conn.execute(
                    text(
                        "UPDATE workflow_versions SET message = 'rewritten' WHERE workflow_id = :w"
                    ),
                    {"w": wf["id"]},
                )
            with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text("DELETE FROM audit_events"))
        finally:
            engine.dispose()


class TestLifecycle:
    async def test_deploy_stop_and_who_when(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        empty = (
            await owner.post(f"/api/v1/projects/{t.project}/workflows", json={"name": "empty"})
        ).json()
        assert (
            await owner.post(f"/api/v1/workflows/{empty['id']}/deploy", json={})
        ).status_code == 409
        wf = await api.workflow(owner, t.project)
        await owner.put(
            f"/api/v1/workflows/{wf['id']}/definition", json={"definition": simple_definition("v2")}
        )
        d = await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={"version": 1})
        assert d.status_code == 200
        body = d.json()
        assert (
            body["status"] == "deployed"
            and body["activeVersion"] == 1
            and body["deployedBy"] == owner.id
        )
        assert body["deployedAt"]
        assert (await owner.delete(f"/api/v1/workflows/{wf['id']}")).status_code == 409
        s = await owner.post(f"/api/v1/workflows/{wf['id']}/stop")
        assert s.json()["status"] == "stopped" and s.json()["stoppedBy"] == owner.id
        assert (await owner.post(f"/api/v1/workflows/{wf['id']}/stop")).status_code == 409
        assert (
            await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={"version": 5})
        ).status_code == 404
        assert (await owner.delete(f"/api/v1/workflows/{wf['id']}")).status_code == 204
        audit = (
            await owner.get(f"/api/v1/projects/{t.project}/audit", params={"action": "workflow."})
        ).json()["items"]
        actions = [e["action"] for e in audit]
        assert actions[:4] == [
            "workflow.delete",
            "workflow.stop",
            "workflow.deploy",
            "workflow.save",
        ]

    async def test_run_now_starts_the_active_version_with_labels(
        self, api: Api, orchestrator: FakeOrchestrator
    ) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        editor = await api.member(owner, "project", t.project, "editor")
        wf = await api.workflow(owner, t.project)
        not_deployed = await editor.post(f"/api/v1/workflows/{wf['id']}/run", json={})
        assert not_deployed.status_code == 409
        await owner.put(
            f"/api/v1/workflows/{wf['id']}/definition", json={"definition": simple_definition("v2")}
        )
        await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={"version": 1})
        r = await editor.post(
            f"/api/v1/workflows/{wf['id']}/run", json={"triggerData": {"orderId": 42}}
        )
        assert r.status_code == 201 and r.json()["version"] == 1
        sent = orchestrator.started[-1]
        assert sent["triggerData"] == {"orderId": 42}
        [trigger] = (await owner.get(f"/api/v1/workflows/{wf['id']}/triggers")).json()["items"]
        assert sent["labels"] == {
            "companyId": t.company,
            "organizationId": t.organization,
            "projectId": t.project,
            "workflowId": wf["id"],
            "version": "1",
            "trigger": "manual",
            "triggerId": trigger["id"],
        }
        firings = (await owner.get(f"/api/v1/workflows/{wf['id']}/triggers/firings")).json()
        assert [(f["kind"], f["status"], f["instanceId"]) for f in firings["items"]] == [
            ("manual", "started", r.json()["instanceId"])
        ]
        assert sent["definition"]["nodes"][1]["label"] == "Say hello"
        assert orchestrator.authorizations[-1] == editor.headers["authorization"]
        explicit = await editor.post(f"/api/v1/workflows/{wf['id']}/run", json={"version": 2})
        assert (
            explicit.json()["version"] == 2 and orchestrator.started[-1]["labels"]["version"] == "2"
        )
        runs = (await editor.get(f"/api/v1/workflows/{wf['id']}/executions")).json()["items"]
        assert {run["instanceId"] for run in runs} == {
            r.json()["instanceId"],
            explicit.json()["instanceId"],
        }

    async def test_orchestrator_failures_are_clear_gateway_errors(
        self, api: Api, orchestrator: FakeOrchestrator
    ) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        orchestrator.fail_with = 500
        try:
            r = await owner.post(f"/api/v1/workflows/{wf['id']}/run", json={"version": 1})
            assert r.status_code == 502 and r.json()["upstream_status"] == 500
            listing = await owner.get(f"/api/v1/projects/{t.project}/executions")
            assert listing.status_code == 502
        finally:
            orchestrator.fail_with = None
        failed = (
            await owner.get(
                f"/api/v1/projects/{t.project}/audit", params={"action": "workflow.run"}
            )
        ).json()
        assert failed["items"][0]["success"] is False


class TestImportExport:
    async def test_yaml_and_json_round_trip(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        definition = simple_definition()
        r = await owner.post(
            f"/api/v1/projects/{t.project}/workflows/import",
            json={"format": "yaml", "content": yaml.safe_dump(definition)},
        )
        assert (
            r.status_code == 201 and r.json()["name"] == "Hello" and r.json()["latestVersion"] == 1
        )
        wf_id = r.json()["id"]
        exported = await owner.get(f"/api/v1/workflows/{wf_id}/export", params={"format": "yaml"})
        assert exported.headers["content-type"].startswith("application/yaml")
        assert "attachment" in exported.headers["content-disposition"]
        as_json = await owner.get(f"/api/v1/workflows/{wf_id}/export")
        assert yaml.safe_load(exported.text) == as_json.json()
        assert as_json.json()["nodes"] == definition["nodes"]
        again = await owner.post(
            f"/api/v1/projects/{t.project}/workflows/import",
            json={"format": "json", "content": as_json.text, "name": "Copy"},
        )
        assert again.status_code == 201 and again.json()["slug"] == "copy"

    async def test_broken_documents_are_422(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        for fmt, content in (
            ("yaml", "nodes: [unclosed"),
            ("json", "{nope"),
            ("json", "[1, 2]"),
            ("yaml", "just text"),
        ):
            r = await owner.post(
                f"/api/v1/projects/{t.project}/workflows/import",
                json={"format": fmt, "content": content},
            )
            assert r.status_code == 422, (fmt, content)
        empty = (
            await owner.post(f"/api/v1/projects/{t.project}/workflows", json={"name": "e"})
        ).json()
        assert (await owner.get(f"/api/v1/workflows/{empty['id']}/export")).status_code == 404


class TestHostileText:
    async def test_nul_and_control_characters_are_422_on_every_backend(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        cases = [
            (
                "PUT",
                f"/api/v1/workflows/{wf['id']}/definition",
                {"definition": simple_definition("x"), "message": "a\x00b"},
            ),
            ("PATCH", f"/api/v1/workflows/{wf['id']}", {"description": "a\x00b"}),
            (
                "POST",
                f"/api/v1/projects/{t.project}/workflows",
                {"name": "ok", "description": "\x00"},
            ),
            ("POST", f"/api/v1/workflows/{wf['id']}/versions/1/restore", {"message": "\x00"}),
        ]
        for method, path, body in cases:
            r = await owner.request(method, path, json=body)
            assert r.status_code == 422, (path, r.text)

    async def test_imported_names_are_cleaned(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        for name, expected in (
            ("Bad\x00Name\n", "BadName"),
            ({"not": "a string"}, "{'not': 'a string'}"),
            ("", "Imported workflow"),
        ):
            definition = {**simple_definition(), "name": name}
            r = await owner.post(
                f"/api/v1/projects/{t.project}/workflows/import",
                json={"format": "json", "content": json.dumps(definition)},
            )
            assert r.status_code in (201, 422), r.text
            if r.status_code == 201:
                assert r.json()["name"] == expected


class TestInternalDefinition:
    """What the orchestrator reads for sub-workflow nodes."""

    async def test_by_id_or_slug_active_latest_and_numbered(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        wf = await api.workflow(owner, t.project)
        internal = {"dapr-caller-app-id": "workflow-orchestrator"}
        url = f"/api/v1/internal/workflows/{wf['id']}/definition"
        not_deployed = await api.http.get(url, params={"projectId": t.project}, headers=internal)
        assert (
            not_deployed.status_code == 404
            and "no deployed version" in not_deployed.json()["detail"]
        )
        latest = await api.http.get(
            url, params={"projectId": t.project, "version": "latest"}, headers=internal
        )
        assert latest.status_code == 200
        assert latest.json()["version"] == 1
        assert latest.json()["definition"]["nodes"] == simple_definition()["nodes"]
        assert (
            await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={"version": 1})
        ).status_code == 200
        by_slug = await api.http.get(
            f"/api/v1/internal/workflows/{wf['slug']}/definition",
            params={"projectId": t.project},
            headers=internal,
        )
        assert by_slug.status_code == 200 and by_slug.json()["workflowId"] == wf["id"]
        numbered = await api.http.get(
            url, params={"projectId": t.project, "version": "1"}, headers=internal
        )
        assert numbered.json()["version"] == 1
        missing = await api.http.get(
            url, params={"projectId": t.project, "version": "7"}, headers=internal
        )
        assert missing.status_code == 404

    async def test_only_platform_services_in_the_same_project(self, api: Api) -> None:
        owner = await api.user()
        t = await api.tenancy(owner)
        other_owner = await api.user("other")
        other = await api.tenancy(other_owner)
        wf = await api.workflow(owner, t.project)
        url = f"/api/v1/internal/workflows/{wf['id']}/definition"
        params = {"projectId": t.project, "version": "latest"}
        assert (await api.http.get(url, params=params)).status_code == 401
        assert (await owner.get(url, params=params)).status_code == 401
        foreign = await api.http.get(
            url,
            params={"projectId": other.project, "version": "latest"},
            headers={"dapr-caller-app-id": "workflow-orchestrator"},
        )
        assert foreign.status_code == 404
        bad = await api.http.get(
            url,
            params={"projectId": t.project, "version": "newest"},
            headers={"dapr-caller-app-id": "workflow-orchestrator"},
        )
        assert bad.status_code == 422
