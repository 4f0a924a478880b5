from __future__ import annotations

import json

import pytest

from ..conftest import Platform

pytestmark = pytest.mark.unit


async def start(platform: Platform, body: dict | None = None, wid: str = "wf1"):  # type: ignore[no-untyped-def,type-arg]
    return await platform.client.post(
        f"/api/workflows/{wid}/run", json=body or {"triggerData": {"n": 1}}, headers=platform.csrf()
    )


class TestRun:
    async def test_starts_the_active_version_with_tenant_labels(self, platform: Platform) -> None:
        uid = await platform.login()
        platform.add_workflow("wf1", versions=2, active=1)
        r = await start(platform)
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 1
        sent = platform.orchestrator.started[0]
        assert sent["definition"]["id"] == "wf1"
        assert sent["definition"]["nodes"][1]["config"]["actionId"] == "system/http-request"
        assert sent["triggerData"] == {"n": 1}
        assert sent["labels"] == {
            "projectId": "p1",
            "workflowId": "wf1",
            "organizationId": "o1",
            "companyId": "c1",
            "version": "1",
            "startedBy": uid,
        }

    async def test_latest_version_when_none_is_active_and_explicit_version(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.add_workflow("wf1", versions=3)
        assert (await start(platform)).json()["version"] == 3
        assert (await start(platform, {"triggerData": {"n": 2}, "version": 2})).json()[
            "version"
        ] == 2

    async def test_viewers_cannot_run(self, platform: Platform) -> None:
        await platform.login(role="viewer")
        platform.add_workflow("wf1")
        r = await start(platform)
        assert r.status_code == 403 and platform.orchestrator.started == []

    async def test_other_tenants_workflow_is_404(self, platform: Platform) -> None:
        await platform.login(project="p1")
        platform.add_workflow("wf9", project="p9")
        assert (await start(platform, wid="wf9")).status_code == 404

    async def test_unsaved_workflow_is_409(self, platform: Platform) -> None:
        await platform.login()
        platform.add_workflow("wf1", versions=0)
        r = await start(platform)
        assert r.status_code == 409 and "save" in r.json()["detail"]

    async def test_invalid_definition_never_reaches_the_orchestrator(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        del platform.admin.versions[("wf1", 1)]["nodes"][1]["config"]["url"]
        r = await start(platform)
        assert r.status_code == 422
        assert any(e["nodeId"] == "a" for e in r.json()["errors"])
        assert platform.orchestrator.started == []

    async def test_trigger_data_is_checked_against_the_input_schema(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        r = await start(platform, {"triggerData": {"n": "one"}})
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "/n"
        r = await start(platform, {"triggerData": {}})
        assert r.status_code == 422 and "'n' is a required property" in r.json()["detail"]

    async def test_request_body_is_strict(self, platform: Platform) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        r = await start(platform, {"triggerData": {"n": 1}, "labels": {"projectId": "p9"}})
        assert r.status_code == 422

    async def test_orchestrator_failures_are_502_or_503(self, platform: Platform) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        platform.orchestrator.fail_with = 500
        r = await start(platform)
        assert r.status_code == 502 and r.headers["content-type"] == "application/problem+json"


class TestOrchestratorIdentity:
    async def test_the_orchestrator_is_called_with_the_users_token(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        assert (await start(platform)).status_code == 201
        token = platform.client.cookies.get("wfb_session")
        assert platform.orchestrator.callers
        assert all(c == ("builder-bff", f"Bearer {token}") for c in platform.orchestrator.callers)

    async def test_an_orchestrator_401_is_a_502_and_keeps_the_session(
        self, platform: Platform
    ) -> None:
        await platform.login()
        platform.add_workflow("wf1")
        platform.orchestrator.fail_with = 401
        r = await start(platform)
        assert r.status_code == 502
        assert "token verification" in r.json()["detail"]
        assert platform.admin.refresh_calls == 1  # one renewal was tried first
        assert not any("Max-Age=0" in c for c in r.headers.get_list("set-cookie"))
        platform.orchestrator.fail_with = None
        assert (await platform.client.get("/api/tenants")).status_code == 200

    async def test_function_runner_is_called_as_the_builder(self, platform: Platform) -> None:
        await platform.login()
        assert (await platform.client.get("/api/functions")).status_code == 200
        assert platform.runner.authorization
        assert set(platform.runner.authorization) == {None}  # never the user's token


class TestRunAccess:
    async def _run(self, platform: Platform, role: str = "editor") -> str:
        await platform.login(role=role)
        platform.add_workflow("wf1")
        platform.orchestrator.runs["r1"] = {
            "instanceId": "r1",
            "workflowId": "wf1",
            "runtimeStatus": "RUNNING",
            "phase": "awaiting_approval",
            "progress": 50,
            "currentNodeIds": ["g"],
            "outputs": {},
            "labels": {"projectId": "p1"},
        }
        platform.orchestrator.runs["other"] = {
            "instanceId": "other",
            "workflowId": "x",
            "runtimeStatus": "RUNNING",
            "labels": {"projectId": "p9"},
        }
        return "r1"

    async def test_status_and_timeline(self, platform: Platform) -> None:
        await self._run(platform)
        status = (await platform.client.get("/api/runs/r1")).json()
        assert status["phase"] == "awaiting_approval"
        timeline = (await platform.client.get("/api/runs/r1/timeline")).json()
        assert timeline["nodes"][0]["output"] == {"ok": True}

    async def test_other_tenants_runs_are_404_everywhere(self, platform: Platform) -> None:
        await self._run(platform)
        for method, path in (
            ("GET", "/api/runs/other"),
            ("GET", "/api/runs/other/timeline"),
            ("GET", "/api/runs/other/events"),
            ("POST", "/api/runs/other/terminate"),
            ("POST", "/api/runs/other/approvals/g"),
            ("GET", "/api/runs/nope"),
        ):
            body = {"approved": True} if "approvals" in path else {}
            r = await platform.client.request(
                method, path, json=body if method == "POST" else None, headers=platform.csrf()
            )
            assert r.status_code == 404, (method, path, r.status_code)
        assert platform.orchestrator.posted == []

    async def test_runs_without_labels_are_checked_through_their_workflow(
        self, platform: Platform
    ) -> None:
        await self._run(platform)
        platform.orchestrator.runs["nolabel"] = {
            "instanceId": "nolabel",
            "workflowId": "wf1",
            "runtimeStatus": "RUNNING",
        }
        assert (await platform.client.get("/api/runs/nolabel")).status_code == 200
        platform.orchestrator.runs["nolabel2"] = {
            "instanceId": "nolabel2",
            "workflowId": "wf-other",
            "runtimeStatus": "RUNNING",
        }
        assert (await platform.client.get("/api/runs/nolabel2")).status_code == 404

    async def test_approvals_are_forwarded_exactly(self, platform: Platform) -> None:
        await self._run(platform)
        r = await platform.client.post(
            "/api/runs/r1/approvals/g",
            json={"approved": False, "reason": "no budget"},
            headers=platform.csrf(),
        )
        assert r.status_code == 200
        assert platform.orchestrator.posted == [
            ("approval:g", {"approved": False, "reason": "no budget"})
        ]
        bad = await platform.client.post(
            "/api/runs/r1/approvals/g", json={"approved": "maybe"}, headers=platform.csrf()
        )
        assert bad.status_code == 422

    async def test_viewers_may_watch_but_not_steer(self, platform: Platform) -> None:
        await self._run(platform, role="viewer")
        assert (await platform.client.get("/api/runs/r1")).status_code == 200
        r = await platform.client.post(
            "/api/runs/r1/approvals/g", json={"approved": True}, headers=platform.csrf()
        )
        assert r.status_code == 403
        assert (
            await platform.client.post("/api/runs/r1/terminate", headers=platform.csrf())
        ).status_code == 403

    async def test_rerun_replay_and_control(self, platform: Platform) -> None:
        await self._run(platform)
        r = await platform.client.post(
            "/api/runs/r1/rerun", json={"fromNodeId": "a"}, headers=platform.csrf()
        )
        assert r.status_code == 201 and r.json()["instanceId"] == "r1-rerun"
        r = await platform.client.post(
            "/api/runs/r1/replay", json={"triggerData": {"n": 5}}, headers=platform.csrf()
        )
        assert r.status_code == 201
        for action in ("pause", "resume", "terminate"):
            assert (
                await platform.client.post(f"/api/runs/r1/{action}", headers=platform.csrf())
            ).status_code == 200
        assert (
            await platform.client.post("/api/runs/r1/explode", headers=platform.csrf())
        ).status_code == 422
        assert [p[0] for p in platform.orchestrator.posted] == [
            "rerun",
            "replay",
            "pause",
            "resume",
            "terminate",
        ]
        assert platform.orchestrator.posted[1][1] == {"triggerData": {"n": 5}}

    async def test_purge_needs_admin(self, platform: Platform) -> None:
        await self._run(platform)
        assert (
            await platform.client.delete("/api/runs/r1", headers=platform.csrf())
        ).status_code == 403

    async def test_list_is_filtered_to_the_project(self, platform: Platform) -> None:
        await self._run(platform)
        items = (await platform.client.get("/api/projects/p1/runs?status=RUNNING")).json()["items"]
        assert [r["instanceId"] for r in items] == ["r1"]
        assert (await platform.client.get("/api/projects/p9/runs")).status_code == 404
        assert (await platform.client.get("/api/projects/p1/runs?limit=5000")).status_code == 422

    async def test_diff_checks_both_runs(self, platform: Platform) -> None:
        await self._run(platform)
        platform.orchestrator.runs["r2"] = {**platform.orchestrator.runs["r1"], "instanceId": "r2"}
        assert (await platform.client.get("/api/runs/diff?left=r1&right=r2")).json()[
            "right"
        ] == "r2"
        assert (await platform.client.get("/api/runs/diff?left=r1&right=other")).status_code == 404


class TestLiveEvents:
    async def test_events_stream_through_as_sse(self, platform: Platform) -> None:
        await TestRunAccess()._run(platform)
        async with platform.client.stream("GET", "/api/runs/r1/events") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"].startswith("no-cache")
            text = (await r.aread()).decode()
        blocks = [b for b in text.split("\n\n") if b.strip()]
        assert [b.splitlines()[0] for b in blocks] == ["id: 1", "id: 2", "id: 3"]
        assert (
            json.loads(blocks[0].splitlines()[2].removeprefix("data: "))["type"] == "node.started"
        )

    async def test_resumes_with_last_event_id(self, platform: Platform) -> None:
        await TestRunAccess()._run(platform)
        async with platform.client.stream(
            "GET", "/api/runs/r1/events", headers={"Last-Event-ID": "7"}
        ) as r:
            text = (await r.aread()).decode()
        assert text.startswith("id: 8\n")
        async with platform.client.stream("GET", "/api/runs/r1/events?lastEventId=2") as r:
            await r.aread()
        assert platform.orchestrator.last_event_ids == ["7", "2"]
