"""Every node type and API operation, end to end on the local sidecar."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e
T = "trigger"


def done(status: dict[str, Any]) -> bool:
    return status["runtimeStatus"] in ("COMPLETED", "FAILED", "TERMINATED")


class TestSeedApi:
    def test_start_and_status_have_the_seed_shape(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "seed-shape",
            defs.node(T, "trigger"),
            defs.node("a", "action", "Echo", actionId="test/echo", msg="hi {{trigger.name}}"),
        )
        with platform.client() as client:
            response = client.post(
                "/api/v2/workflows",
                json={
                    "definition": definition,
                    "triggerData": {"name": "Ada"},
                    "integrations": {"openai": {"apiKey": "sk-x"}},
                },
            )
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"instanceId", "workflowId", "status"}
        assert body["workflowId"] == "seed-shape" and body["status"] == "started"
        assert body["instanceId"].startswith("seed-shape-")
        status = platform.finished(body["instanceId"])
        assert status["runtimeStatus"] == "COMPLETED" and status["phase"] == "completed"
        assert status["progress"] == 100 and status["error"] is None
        assert status["outputs"]["a"]["success"] is True
        assert status["outputs"]["a"]["data"]["input"] == {"msg": "hi Ada"}
        assert status["outputs"][T] == {"name": "Ada"}
        assert status["startedAt"] and status["completedAt"]
        call = next(c for c in platform.fr.calls if c["execution_id"] == body["instanceId"])
        assert call["integrations"] == {"openai": {"apiKey": "sk-x"}}
        assert call["function_slug"] == "test/echo" and call["node_name"] == "Echo"

    def test_start_can_wait_for_the_result(self, platform: Any, defs: Any) -> None:
        quick = defs.chain(
            "waited",
            defs.node(T, "trigger"),
            defs.node("a", "action", actionId="test/echo", v="{{trigger.v}}"),
        )
        slow = defs.chain(
            "waited-slow",
            defs.node(T, "trigger"),
            defs.node("a", "action", actionId="test/sleep", seconds=3),
        )
        with platform.client() as client:
            done = client.post(
                "/api/v2/workflows",
                params={"wait": 30},
                json={"definition": quick, "triggerData": {"v": 5}},
            )
            pending = client.post(
                "/api/v2/workflows", params={"wait": 0.5}, json={"definition": slow}
            )
            too_long = client.post(
                "/api/v2/workflows", params={"wait": 600}, json={"definition": quick}
            )
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["runtimeStatus"] == "COMPLETED" and body["result"]["data"]["input"] == {"v": 5}
        assert pending.status_code == 202 and pending.json()["status"] == "started"
        assert too_long.status_code == 422
        platform.finished(pending.json()["instanceId"])

    def test_a_failed_run_is_failed_with_its_error(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "fails",
            defs.node(T, "trigger"),
            defs.node("pay", "action", "Charge", actionId="test/fail", message="card declined"),
        )
        status = platform.finished(platform.start_run(definition, {}))
        assert status["runtimeStatus"] == "FAILED" and status["phase"] == "failed"
        assert "card declined" in status["error"]

    def test_invalid_definitions_are_422_with_every_node_error(
        self, platform: Any, defs: Any
    ) -> None:
        definition = defs.definition(
            "bad",
            [
                defs.node(T, "trigger"),
                defs.node("a", "action", message="{{Ghost.x}}"),
                defs.node("b", "teleport"),
            ],
            [defs.edge(T, "a"), defs.edge("a", "a")],
        )
        with platform.client() as client:
            response = client.post("/api/v2/workflows", json={"definition": definition})
        assert response.status_code == 422
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        found = {(e["code"], e.get("nodeId")) for e in problem["errors"]}
        assert {
            ("invalid_config", "a"),
            ("unknown_reference", "a"),
            ("unknown_node_type", "b"),
            ("cycle", "a"),
        } <= found

    def test_trigger_data_is_checked_against_the_input_schema(
        self, platform: Any, defs: Any
    ) -> None:
        schema = {
            "type": "object",
            "properties": {"amount": {"type": "number"}},
            "required": ["amount"],
        }
        definition = defs.chain(
            "schema",
            defs.node(T, "trigger", inputSchema=schema),
            defs.node("a", "action", actionId="test/echo"),
        )
        with platform.client() as client:
            response = client.post(
                "/api/v2/workflows",
                json={"definition": definition, "triggerData": {"amount": "lots"}},
            )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["triggerData", "amount"]

    def test_unknown_run_is_404_and_bad_bodies_are_422(self, platform: Any) -> None:
        with platform.client() as client:
            assert client.get("/api/v2/workflows/nope/status").status_code == 404
            assert (
                client.post("/api/v2/workflows/nope/events", json={"eventName": "x"}).status_code
                == 404
            )
            assert (
                client.post("/api/v2/workflows", json={"definition": {}, "extra": 1}).status_code
                == 422
            )
            assert (
                client.post(
                    "/api/v2/workflows", content=b"{", headers={"content-type": "application/json"}
                ).status_code
                == 422
            )

    def test_requests_without_a_token_are_401(self, platform: Any) -> None:
        response = httpx.get(f"{platform.url}/api/v2/workflows/x/status")
        assert (
            response.status_code == 401
            and response.headers["content-type"] == "application/problem+json"
        )


class TestParallelAndBranches:
    def test_parallel_branches_overlap_in_time(self, platform: Any, defs: Any) -> None:
        nodes = [defs.node(T, "trigger")] + [
            defs.node(f"s{i}", "action", actionId="test/sleep", seconds=1.0) for i in range(3)
        ]
        nodes.append(defs.node("join", "action", actionId="test/echo"))
        edges = [defs.edge(T, f"s{i}") for i in range(3)] + [
            defs.edge(f"s{i}", "join") for i in range(3)
        ]
        status = platform.finished(
            platform.start_run(defs.definition("parallel", nodes, edges), {})
        )
        assert status["runtimeStatus"] == "COMPLETED"
        windows = [
            (
                status["outputs"][f"s{i}"]["data"]["startedAt"],
                status["outputs"][f"s{i}"]["data"]["endedAt"],
            )
            for i in range(3)
        ]
        latest_start = max(w[0] for w in windows)
        earliest_end = min(w[1] for w in windows)
        assert latest_start < earliest_end, f"branches ran one after another: {windows}"

    def test_condition_skips_the_branch_not_taken(self, platform: Any, defs: Any) -> None:
        nodes = [
            defs.node(T, "trigger"),
            defs.node("c", "condition", expression="trigger.n > 10"),
            defs.node("big", "action", actionId="test/echo"),
            defs.node("big2", "action", actionId="test/echo"),
            defs.node("small", "action", actionId="test/echo"),
            defs.node("join", "action", actionId="test/echo"),
        ]
        edges = [
            defs.edge(T, "c"),
            defs.edge("c", "big", "true"),
            defs.edge("big", "big2"),
            defs.edge("c", "small", "false"),
            defs.edge("big2", "join"),
            defs.edge("small", "join"),
        ]
        instance = platform.start_run(defs.definition("branches", nodes, edges), {"n": 1})
        assert platform.finished(instance)["runtimeStatus"] == "COMPLETED"
        statuses = {n["nodeKey"]: n["status"] for n in platform.timeline(instance)["nodes"]}
        assert statuses == {
            T: "completed",
            "c": "completed",
            "big": "skipped",
            "big2": "skipped",
            "small": "completed",
            "join": "completed",
        }


class TestApprovals:
    def gate(
        self, defs: Any, wid: str, timeout: float = 3600, handles: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        nodes = [
            defs.node(T, "trigger"),
            defs.node(
                "gate",
                "approval-gate",
                "Manager",
                timeoutSeconds=timeout,
                message="Check {{trigger.item}}",
            ),
            defs.node("after", "action", actionId="test/echo"),
        ]
        edges = [defs.edge(T, "gate"), defs.edge("gate", "after", "approved")]
        for handle in handles:
            nodes.append(defs.node(handle, "action", actionId="test/echo"))
            edges.append(defs.edge("gate", handle, handle))
        return defs.definition(wid, nodes, edges)

    def test_approve_through_the_approvals_endpoint(self, platform: Any, defs: Any) -> None:
        instance = platform.start_run(self.gate(defs, "approve"), {"item": "laptop"})
        waiting = platform.wait(instance, lambda s: s["phase"] == "awaiting_approval")
        assert waiting["pendingApproval"] == {
            "nodeId": "gate",
            "eventName": "approval_gate",
            "message": "Check laptop",
            "expiresAt": waiting["pendingApproval"]["expiresAt"],
        }
        assert waiting["currentNodeIds"] == ["gate"]
        with platform.client() as client:
            response = client.post(
                f"/api/v2/workflows/{instance}/approvals/gate",
                json={"approved": True, "reason": "ok"},
            )
        assert response.status_code == 202
        status = platform.finished(instance)
        assert status["phase"] == "completed"
        assert (
            status["outputs"]["gate"]["approved"] is True
            and status["outputs"]["gate"]["respondedBy"] == "developer"
        )
        assert status["outputs"]["after"]["success"] is True

    def test_reject_through_the_seed_events_endpoint(self, platform: Any, defs: Any) -> None:
        instance = platform.start_run(self.gate(defs, "reject"), {"item": "yacht"})
        platform.wait(instance, lambda s: s["phase"] == "awaiting_approval")
        with platform.client() as client:
            bad = client.post(
                f"/api/v2/workflows/{instance}/events",
                json={"eventName": "approval_gate", "eventData": {"approve": "yes"}},
            )
            assert bad.status_code == 422
            ok = client.post(
                f"/api/v2/workflows/{instance}/events",
                json={
                    "eventName": "approval_gate",
                    "eventData": {"approved": False, "reason": "too expensive"},
                },
            )
            assert ok.status_code == 202
        status = platform.finished(instance)
        assert status["runtimeStatus"] == "COMPLETED" and status["phase"] == "rejected"
        assert "too expensive" in status["message"]
        with platform.client() as client:
            late = client.post(
                f"/api/v2/workflows/{instance}/approvals/gate", json={"approved": True}
            )
        assert late.status_code == 409

    def test_timeout_routes_or_ends_timed_out(self, platform: Any, defs: Any) -> None:
        ended = platform.start_run(self.gate(defs, "timeout-end", timeout=1), {"item": "x"})
        routed = platform.start_run(
            self.gate(defs, "timeout-route", timeout=1, handles=("timeout",)), {"item": "x"}
        )
        assert platform.finished(ended)["phase"] == "timed_out"
        routed_status = platform.finished(routed)
        assert routed_status["phase"] == "completed" and "timeout" in routed_status["outputs"]

    def test_approving_a_gate_that_is_not_waiting_is_409(self, platform: Any, defs: Any) -> None:
        definition = self.gate(defs, "not-yet")
        definition["nodes"].insert(1, defs.node("slow", "action", actionId="test/sleep", seconds=3))
        definition["edges"] = [
            defs.edge(T, "slow"),
            defs.edge("slow", "gate"),
            defs.edge("gate", "after", "approved"),
        ]
        instance = platform.start_run(definition, {"item": "x"})
        with platform.client() as client:
            early = client.post(
                f"/api/v2/workflows/{instance}/approvals/gate", json={"approved": True}
            )
            unknown = client.post(
                f"/api/v2/workflows/{instance}/approvals/slow", json={"approved": True}
            )
        assert early.status_code == 409 and unknown.status_code == 404
        client_terminate(platform, instance)


def client_terminate(platform: Any, instance: str) -> None:
    with platform.client() as client:
        client.post(f"/api/v2/workflows/{instance}/terminate")


class TestTimersRetriesCompensation:
    def test_timer(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "timer",
            defs.node(T, "trigger"),
            defs.node("wait", "timer", durationSeconds=1.5),
            defs.node("after", "action", actionId="test/echo"),
        )
        started = time.monotonic()
        instance = platform.start_run(definition, {})
        platform.wait(instance, lambda s: s["currentNodeIds"] == ["wait"] or done(s))
        status = platform.finished(instance)
        assert status["phase"] == "completed" and time.monotonic() - started >= 1.5
        timeline = {n["nodeKey"]: n for n in platform.timeline(instance)["nodes"]}
        assert timeline["wait"]["status"] == "completed" and timeline["wait"]["durationMs"] >= 1400

    def test_retries_show_their_attempts(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "retries",
            defs.node(T, "trigger"),
            defs.node(
                "flaky",
                "action",
                actionId="test/flaky",
                failures=2,
                retry={"maxAttempts": 4, "initialIntervalSeconds": 0.2, "backoffCoefficient": 1.5},
            ),
        )
        instance = platform.start_run(definition, {})
        assert platform.finished(instance)["phase"] == "completed"
        node = next(n for n in platform.timeline(instance)["nodes"] if n["nodeKey"] == "flaky")
        assert node["attempts"] == 3 and node["status"] == "completed"
        assert [e["error"] for e in node["attemptErrors"]] == [
            "attempt 1 failed",
            "attempt 2 failed",
        ]

    def test_compensation_runs_in_reverse_order_and_is_recorded(
        self, platform: Any, defs: Any
    ) -> None:
        def step(node_id: str) -> dict[str, Any]:
            return defs.node(
                node_id,
                "action",
                actionId="test/echo",
                onError="compensate",
                what=node_id,
                compensate={"actionId": "test/echo", "input": {"undo": node_id}},
            )

        definition = defs.chain(
            "saga",
            defs.node(T, "trigger"),
            step("flight"),
            step("hotel"),
            defs.node(
                "car", "action", actionId="test/fail", message="no cars", onError="compensate"
            ),
        )
        instance = platform.start_run(definition, {})
        status = platform.finished(instance)
        assert status["runtimeStatus"] == "FAILED" and "no cars" in status["error"]
        undo = [
            c["input"]["undo"]
            for c in platform.fr.calls
            if c["execution_id"] == instance and "undo" in c["input"]
        ]
        assert undo == ["hotel", "flight"]
        nodes = {n["nodeKey"]: n for n in platform.timeline(instance)["nodes"]}
        assert (
            nodes["hotel"]["status"] == "compensated" and nodes["flight"]["status"] == "compensated"
        )
        assert nodes["hotel"]["compensation"]["status"] == "completed"
        assert nodes["car"]["status"] == "failed"


class TestPublishLoopsSubWorkflows:
    def test_publish_event_reaches_subscribers(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "publish",
            defs.node(T, "trigger"),
            defs.node("p", "publish-event", topic="orders", data={"order": "{{trigger.id}}"}),
        )
        instance = platform.start_run(definition, {"id": "o-42"})
        assert platform.finished(instance)["phase"] == "completed"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            d.get("data") == {"order": "o-42"} for d in platform.fr.deliveries
        ):
            time.sleep(0.1)
        assert any(d.get("data") == {"order": "o-42"} for d in platform.fr.deliveries)

    def test_loop_over_items_with_a_body(self, platform: Any, defs: Any) -> None:
        body = {
            "nodes": [
                defs.node("double", "action", actionId="test/echo", v="{{item.n}}", i="{{index}}")
            ],
            "edges": [],
        }
        definition = defs.chain(
            "loop",
            defs.node(T, "trigger"),
            defs.node("each", "loop", "Each", items="{{trigger.items}}", concurrency=2, body=body),
            defs.node("sum", "action", actionId="test/echo", count="{{Each.count}}"),
        )
        instance = platform.start_run(definition, {"items": [{"n": 1}, {"n": 2}, {"n": 3}]})
        status = platform.finished(instance)
        assert status["phase"] == "completed", status
        results = status["outputs"]["each"]["results"]
        assert [r["data"]["input"] for r in results] == [
            {"v": 1, "i": 0},
            {"v": 2, "i": 1},
            {"v": 3, "i": 2},
        ]
        keys = {n["nodeKey"] for n in platform.timeline(instance)["nodes"]}
        assert {"each[0].double", "each[2].double"} <= keys

    def test_sub_workflow_runs_as_a_child_run(self, platform: Any, defs: Any) -> None:
        child = defs.chain(
            "child",
            defs.node(T, "trigger"),
            defs.node("c1", "action", actionId="test/echo", got="{{trigger.x}}"),
        )
        definition = defs.chain(
            "parent",
            defs.node(T, "trigger"),
            defs.node(
                "sub",
                "sub-workflow",
                "Child",
                workflowId="child",
                definition=child,
                input={"x": "{{trigger.v}}"},
            ),
        )
        instance = platform.start_run(definition, {"v": 7}, labels={"projectId": "p-sub"})
        status = platform.finished(instance)
        assert status["phase"] == "completed", status
        child_id = status["outputs"]["sub"]["instanceId"]
        child_status = platform.status(child_id)
        assert child_status["parentInstanceId"] == instance
        assert (
            child_status["labels"]["projectId"] == "p-sub"
            and child_status["labels"]["workflowId"] == "child"
        )
        assert child_status["outputs"]["c1"]["data"]["input"] == {"got": 7}


class TestControl:
    def test_pause_resume_terminate_purge(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "control", defs.node(T, "trigger"), defs.node("wait", "timer", durationSeconds=600)
        )
        instance = platform.start_run(definition, {})
        platform.wait(instance, lambda s: s["currentNodeIds"] == ["wait"])
        with platform.client() as client:
            assert client.post(f"/api/v2/workflows/{instance}/resume").status_code == 409
            assert client.post(f"/api/v2/workflows/{instance}/pause").status_code == 202
            platform.wait(instance, lambda s: s["runtimeStatus"] == "SUSPENDED")
            assert client.post(f"/api/v2/workflows/{instance}/resume").status_code == 202
            platform.wait(instance, lambda s: s["runtimeStatus"] == "RUNNING")
            assert client.delete(f"/api/v2/workflows/{instance}").status_code == 409
            assert client.post(f"/api/v2/workflows/{instance}/terminate").status_code == 202
            status = platform.wait(instance, lambda s: s["runtimeStatus"] == "TERMINATED")
            assert status["phase"] == "cancelled"
            assert client.post(f"/api/v2/workflows/{instance}/terminate").status_code == 409
            assert (
                client.post(
                    f"/api/v2/workflows/{instance}/events", json={"eventName": "x"}
                ).status_code
                == 409
            )
            assert client.delete(f"/api/v2/workflows/{instance}").status_code == 204
            assert client.get(f"/api/v2/workflows/{instance}/status").status_code == 404


class TestListStreamIdempotency:
    def test_list_filters_and_paginates(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "listed", defs.node(T, "trigger"), defs.node("a", "action", actionId="test/echo")
        )
        ids = [
            platform.start_run(
                definition, {}, labels={"projectId": "p-list", "team": "blue" if i % 2 else "red"}
            )
            for i in range(5)
        ]
        for instance in ids:
            platform.finished(instance)
        seen: list[str] = []
        cursor = None
        with platform.client() as client:
            while True:
                params: dict[str, Any] = {"label": ["projectId:p-list"], "limit": 2}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/api/v2/workflows", params=params).json()
                seen += [item["instanceId"] for item in page["items"]]
                cursor = page["nextCursor"]
                if not cursor:
                    break
            blue = client.get(
                "/api/v2/workflows",
                params={"label": ["projectId:p-list", "team:blue"], "status": "COMPLETED"},
            ).json()
            assert client.get("/api/v2/workflows", params={"label": "nonsense"}).status_code == 400
        assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
        assert {i["instanceId"] for i in blue["items"]} == {ids[1], ids[3]}
        assert all(i["durationMs"] is not None for i in blue["items"])

    def test_sse_stream_follows_the_run_and_resumes(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "streamed",
            defs.node(T, "trigger"),
            defs.node("a", "action", actionId="test/sleep", seconds=0.5),
            defs.node("b", "action", actionId="test/echo"),
        )
        instance = platform.start_run(definition, {})
        events = platform.events(instance)
        types = [e["type"] for e in events]
        assert types[0] == "run.scheduled" and types[-1] == "run.completed"
        a_events = [e["type"] for e in events if e.get("nodeId") == "a"]
        assert a_events == ["node.started", "node.completed"]
        assert types.index("run.started") < types.index("node.started")
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and seqs == list(range(1, len(seqs) + 1))
        resumed = platform.events(instance, last_event_id=seqs[2])
        assert [e["seq"] for e in resumed] == seqs[3:]

    def test_idempotent_start(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "idem", defs.node(T, "trigger"), defs.node("a", "action", actionId="test/echo")
        )
        body = {"definition": definition, "triggerData": {"n": 1}}
        with platform.client() as client:
            first = client.post(
                "/api/v2/workflows", json=body, headers={"Idempotency-Key": "key-1"}
            )
            second = client.post(
                "/api/v2/workflows", json=body, headers={"Idempotency-Key": "key-1"}
            )
            other = client.post(
                "/api/v2/workflows",
                json={**body, "triggerData": {"n": 2}},
                headers={"Idempotency-Key": "key-1"},
            )
        assert first.status_code == 201 and second.status_code == 201
        assert first.json()["instanceId"] == second.json()["instanceId"]
        assert second.headers["idempotent-replayed"] == "true"
        assert other.status_code == 409 and other.json()["instanceId"] == first.json()["instanceId"]


class TestRerunReplayDiff:
    def test_rerun_from_a_node_reuses_earlier_outputs(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "rerun",
            defs.node(T, "trigger"),
            defs.node("a", "action", actionId="test/echo", v=1),
            defs.node("b", "action", actionId="test/echo", prev="{{a.data.attempt}}"),
            defs.node("c", "action", actionId="test/echo"),
        )
        original = platform.start_run(definition, {})
        platform.finished(original)
        with platform.client() as client:
            response = client.post(f"/api/v2/workflows/{original}/rerun", json={"fromNodeId": "b"})
            assert response.status_code == 201, response.text
            bad = client.post(f"/api/v2/workflows/{original}/rerun", json={"fromNodeId": "zz"})
        assert bad.status_code == 422
        rerun = response.json()
        assert rerun["sourceInstanceId"] == original and set(rerun["reusedNodeIds"]) == {T, "a"}
        status = platform.finished(rerun["instanceId"])
        assert status["phase"] == "completed"
        calls = [
            c["node_id"] for c in platform.fr.calls if c["execution_id"] == rerun["instanceId"]
        ]
        assert calls == ["b", "c"]
        assert status["outputs"]["b"]["data"]["input"] == {"prev": 1}

    def test_replay_with_new_trigger_data_and_diff(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "replay",
            defs.node(T, "trigger"),
            defs.node("a", "action", actionId="test/echo", v="{{trigger.v}}"),
        )
        original = platform.start_run(definition, {"v": 1})
        platform.finished(original)
        with platform.client() as client:
            response = client.post(
                f"/api/v2/workflows/{original}/replay", json={"triggerData": {"v": 2}}
            )
            assert response.status_code == 201
            replayed = response.json()["instanceId"]
            platform.finished(replayed)
            summary = client.get(
                "/api/v2/workflows", params={"label": "replayOf:" + original}
            ).json()
            diff = client.get(
                "/api/v2/executions/diff", params={"left": original, "right": replayed}
            ).json()
        assert [i["instanceId"] for i in summary["items"]] == [replayed]
        assert summary["items"][0]["replayOf"] == original
        assert diff["sameDefinition"] is True
        assert diff["run"]["triggerData"] == {"left": {"v": 1}, "right": {"v": 2}}
        changed = {d["nodeKey"]: d["changed"] for d in diff["nodes"]}
        assert "output" in changed["a"] and "trigger" in changed
