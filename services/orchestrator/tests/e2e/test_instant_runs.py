"""Instant runs, end to end: a run whose first turn decides it with no side effect
(triggers, conditions, set/transform) is evaluated by the API and stored finished in one
transaction; it never reaches the engine, yet every read and control call answers as for
any finished run, with the same outcome the engine gives."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dapr.ext.workflow import DaprWorkflowClient

pytestmark = pytest.mark.e2e
T = "trigger"


def branching(defs: Any, wid: str = "instant-branch") -> dict[str, Any]:
    """trigger -> set -> condition -> (true: big, false: small)."""
    nodes = [
        defs.node(T, "trigger"),
        defs.node(
            "set",
            "action",
            "Set",
            actionId="system/set",
            values={"amount": "{{trigger.amount}}", "who": "{{trigger.who}}", "apiKey": "k-1"},
        ),
        defs.node("check", "condition", "Check", expression="Set.data.amount > 100"),
        defs.node("big", "action", "Big", actionId="system/set", values={"tier": "big"}),
        defs.node("small", "action", "Small", actionId="system/set", values={"tier": "small"}),
    ]
    edges = [
        defs.edge(T, "set"),
        defs.edge("set", "check"),
        defs.edge("check", "big", "true"),
        defs.edge("check", "small", "false"),
    ]
    return defs.definition(wid, nodes, edges)


def engine_knows(platform: Any, instance_id: str) -> bool:
    client = DaprWorkflowClient(host="127.0.0.1", port=str(platform.grpc_port))
    return client.get_workflow_state(instance_id) is not None


def outcome(status: dict[str, Any]) -> dict[str, Any]:
    return {k: status[k] for k in ("runtimeStatus", "phase", "outputs", "result", "error")}


def node_statuses(timeline: dict[str, Any]) -> dict[str, str]:
    return {n["nodeId"]: n["status"] for n in timeline["nodes"]}


class TestInstantRuns:
    def test_a_pure_run_is_over_when_the_start_answers(self, platform: Any, defs: Any) -> None:
        with platform.client() as client:
            response = client.post(
                "/api/v2/workflows",
                json={"definition": branching(defs), "triggerData": {"amount": 250, "who": "Ada"}},
            )
            assert response.status_code == 201, response.text
            assert response.json()["status"] == "started"
            instance = response.json()["instanceId"]
            # No polling: the run is already recorded as finished.
            status = client.get(f"/api/v2/workflows/{instance}/status").json()
        assert status["runtimeStatus"] == "COMPLETED" and status["phase"] == "completed"
        assert status["progress"] == 100 and status["error"] is None
        assert status["result"] == {
            "success": True,
            "data": {"tier": "big"},
            "error": None,
            "duration_ms": 0,
        }
        assert status["outputs"]["set"]["data"]["apiKey"] == "[redacted]"
        assert status["outputs"]["set"]["data"]["who"] == "Ada"
        assert status["startedAt"] and status["completedAt"]
        assert not engine_knows(platform, instance)
        timeline = platform.timeline(instance)
        assert node_statuses(timeline) == {
            T: "completed",
            "set": "completed",
            "check": "completed",
            "big": "completed",
            "small": "skipped",
        }
        events = platform.events(instance)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "run.scheduled" and kinds[1] == "run.started"
        assert kinds[-1] == "run.completed"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    def test_wait_answers_with_the_result_at_once(self, platform: Any, defs: Any) -> None:
        with platform.client() as client:
            response = client.post(
                "/api/v2/workflows",
                params={"wait": 5},
                json={"definition": branching(defs), "triggerData": {"amount": 3, "who": "Bo"}},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["runtimeStatus"] == "COMPLETED"
            assert body["result"]["data"] == {"tier": "small"}
            # The same run read back later says the same.
            again = client.get(f"/api/v2/workflows/{body['instanceId']}/status").json()
        assert outcome(again) == outcome(body)

    def test_a_failing_pure_node_fails_the_run(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "instant-fails",
            defs.node(T, "trigger"),
            defs.node("bad", "condition", "Bad", expression="trigger.missing.deeper > 1"),
            defs.node("after", "action", actionId="system/set", values={"x": 1}),
        )
        definition["edges"][1]["sourceHandle"] = "true"
        with platform.client() as client:
            response = client.post(
                "/api/v2/workflows", params={"wait": 5}, json={"definition": definition}
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["runtimeStatus"] == "FAILED" and body["phase"] == "failed"
        assert "bad" in body["error"]
        statuses = node_statuses(platform.timeline(body["instanceId"]))
        assert statuses["bad"] == "failed" and statuses["after"] == "skipped"
        assert platform.status(body["instanceId"])["error"] == body["error"]

    def test_control_calls_answer_as_for_a_finished_run(self, platform: Any, defs: Any) -> None:
        instance = platform.start_run(branching(defs, "instant-control"), {"amount": 1, "who": "C"})
        with platform.client() as client:
            base = f"/api/v2/workflows/{instance}"
            for call in (
                client.post(f"{base}/events", json={"eventName": "x", "eventData": {}}),
                client.post(f"{base}/terminate"),
                client.post(f"{base}/pause"),
                client.post(f"{base}/resume"),
                client.post(f"{base}/approvals/check", json={"approved": True}),
            ):
                assert call.status_code == 409, call.text
                assert "already finished (COMPLETED)" in call.json()["detail"]
            rerun = client.post(f"{base}/rerun", json={"fromNodeId": "check"})
            assert rerun.status_code in (200, 201, 202), rerun.text
            assert set(rerun.json()["reusedNodeIds"]) == {T, "set"}
            replay = client.post(
                f"{base}/replay", json={"triggerData": {"amount": 500, "who": "R"}}
            )
            assert replay.status_code in (200, 201, 202), replay.text
            rerun_status = client.get(
                f"/api/v2/workflows/{rerun.json()['instanceId']}/status"
            ).json()
            replay_status = client.get(
                f"/api/v2/workflows/{replay.json()['instanceId']}/status"
            ).json()
            assert rerun_status["result"]["data"] == {"tier": "small"}
            assert replay_status["result"]["data"] == {"tier": "big"}
            assert replay_status["labels"]["replayOf"] == instance
            assert client.delete(base).status_code == 204
            assert client.get(f"{base}/status").status_code == 404

    def test_a_used_idempotency_key_finds_the_instant_run(self, platform: Any, defs: Any) -> None:
        body = {
            "definition": branching(defs, "instant-idem"),
            "triggerData": {"amount": 7, "who": "I"},
        }
        headers = {"Idempotency-Key": "instant-key-1"}
        with platform.client() as client:
            first = client.post("/api/v2/workflows", json=body, headers=headers)
            second = client.post(
                "/api/v2/workflows", params={"wait": 5}, json=body, headers=headers
            )
        assert first.status_code == 201
        assert second.status_code == 200 and second.headers["Idempotent-Replayed"] == "true"
        assert second.json()["instanceId"] == first.json()["instanceId"]
        assert second.json()["result"]["data"] == {"tier": "small"}

    def test_runs_with_a_side_effect_still_go_to_the_engine(self, platform: Any, defs: Any) -> None:
        definition = defs.chain(
            "not-instant",
            defs.node(T, "trigger"),
            defs.node("set", "action", actionId="system/set", values={"a": 1}),
            defs.node("call", "action", actionId="test/echo", v="{{set.data.a}}"),
        )
        instance = platform.start_run(definition, {})
        status = platform.finished(instance)
        assert status["runtimeStatus"] == "COMPLETED"
        assert engine_knows(platform, instance)


def test_the_engine_gives_the_same_outcome(own_platform: Any, defs: Any) -> None:
    """Each definition, run instantly and then (instant runs off) through the engine."""
    cases = [
        (branching(defs, "same-1"), {"amount": 250, "who": "Ada"}),
        (branching(defs, "same-2"), {"amount": 5, "who": "B"}),
        (
            defs.chain(
                "same-3",
                defs.node(T, "trigger"),
                defs.node("bad", "action", actionId="system/transform", source=1),
            ),
            {},
        ),
    ]

    def run_all(client: httpx.Client) -> list[tuple[dict[str, Any], dict[str, str]]]:
        found = []
        for definition, trigger in cases:
            response = client.post(
                "/api/v2/workflows",
                params={"wait": 30},
                json={"definition": definition, "triggerData": trigger},
            )
            assert response.status_code == 200, response.text
            instance = response.json()["instanceId"]
            found.append((outcome(response.json()), node_statuses(own_platform.timeline(instance))))
        return found

    with own_platform.client() as client:
        instant = run_all(client)
    # kill -9 right after the starts answered: nothing accepted is lost.
    own_platform.kill(own_platform.orchestrator)
    own_platform.start_orchestrator(ORCHESTRATOR_INSTANT_RUNS="false")
    with own_platform.client() as client:
        listed = client.get("/api/v2/workflows", params={"limit": 50}).json()["items"]
        assert sorted(i["runtimeStatus"] for i in listed) == ["COMPLETED", "COMPLETED", "FAILED"]
        through_engine = run_all(client)
    assert through_engine == instant
    assert instant[2][0]["runtimeStatus"] == "FAILED"
