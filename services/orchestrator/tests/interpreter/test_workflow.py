"""The interpreter's semantics, node type by node type, on the in-process simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

pytestmark = pytest.mark.unit

T = "trigger"


class TestChains:
    def test_outputs_flow_through_templates(self, build: Any, functions: Any) -> None:
        functions.on(
            "system/http-request",
            lambda inp: {"status": 200, "body": {"users": [{"id": 1, "active": True}]}},
        )
        definition = build.chain(
            build.node(T, "trigger"),
            build.node(
                "fetch",
                "action",
                "Fetch Users",
                actionId="system/http-request",
                url="{{trigger.url}}",
            ),
            build.node(
                "log",
                "action",
                "Log",
                actionId="system/log",
                message="got {{FetchUsers.data.status}}",
                users="{{fetch.data.body.users}}",
            ),
        )
        run = build.run(definition, {"url": "https://example.com/u"})
        assert run.status == "COMPLETED"
        assert functions.calls[0]["input"] == {"url": "https://example.com/u"}
        assert functions.calls[1]["input"] == {
            "message": "got 200",
            "users": [{"id": 1, "active": True}],
        }
        assert run.output["phase"] == "completed"
        assert run.output["outputs"]["log"]["data"]["echo"]["message"] == "got 200"
        assert run.output["outputs"][T] == {"url": "https://example.com/u"}

    def test_seed_request_shape_reaches_the_activity(self, build: Any, functions: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("a", "action", "Do It", actionId="x/y", k=1)
        )
        build.run(definition, {}, instance_id="inst-9")
        call = functions.calls[0]
        assert call["instanceId"] == "inst-9"
        assert call["workflowId"] == "wf" and call["nodeId"] == "a" and call["nodeName"] == "Do It"
        assert call["functionSlug"] == "x/y" and call["maxAttempts"] == 1

    def test_pure_set_nodes_need_no_activity(self, build: Any, functions: Any) -> None:
        run = build.run(build.example("webhook-set-respond.json"), {"hello": "world"})
        assert run.status == "COMPLETED"
        assert functions.calls == []
        assert run.output["outputs"]["respond"]["data"] == {
            "status": 200,
            "body": {"received": {"hello": "world"}, "ok": True},
        }
        assert [f["runtimeStatus"] for f in functions.finished] == ["COMPLETED"]

    def test_unknown_reference_at_run_time_fails_the_node(self, build: Any, functions: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"),
            build.node("a", "action", actionId="x/y", v="{{trigger.missing}}"),
        )
        run = build.run(definition, {"present": 1})
        assert run.status == "FAILED"
        assert "no field 'missing' at trigger; available: present" in run.failure
        failed = functions.events("node.failed")
        assert failed[0]["nodeKey"] == "a"

    def test_a_failed_action_fails_the_run_with_its_error(self, build: Any, functions: Any) -> None:
        def boom(_inp: dict[str, Any]) -> Any:
            raise NonRetryableError("card declined")

        functions.on("pay/charge", boom)
        definition = build.chain(
            build.node(T, "trigger"),
            build.node("pay", "action", "Charge", actionId="pay/charge"),
            build.node("after", "action", actionId="x/y"),
        )
        run = build.run(definition, {})
        assert run.status == "FAILED"
        assert run.failure == "node pay (Charge) failed: card declined"
        assert [c["nodeKey"] for c in functions.calls] == ["pay"]
        assert functions.finished[0]["phase"] == "failed"
        assert "node.skipped" in functions.node_events("after")


class TestParallelism:
    def test_fan_out_is_scheduled_in_one_turn_and_joins(
        self, build: Any, functions: Any, sim: Any
    ) -> None:
        functions.on("stripe/get-customer", lambda _i: {"email": "e@x"})
        functions.on("linear/find-issues", lambda _i: {"issues": []})
        run = build.run(build.example("diamond-fan-out.json"), {"customerId": "c", "email": "e@x"})
        assert run.status == "COMPLETED", run.failure
        turns = dict(
            zip(
                [c["nodeKey"] for c in functions.calls],
                [
                    t
                    for (n, _), t in zip(run.activity_calls, run.scheduled_turns, strict=True)
                    if n == "execute_action"
                ],
                strict=True,
            )
        )
        assert turns["stripe"] == turns["clerk"] == turns["issues"]
        assert turns["notify"] > turns["stripe"]
        assert functions.node_keys()[-1] == "notify"

    def test_concurrency_cap_limits_in_flight_nodes(self, build: Any, functions: Any) -> None:
        nodes = [build.node(T, "trigger")] + [
            build.node(f"n{i}", "action", actionId="x/y") for i in range(12)
        ]
        edges = [build.edge(T, f"n{i}") for i in range(12)]
        run = build.run(build.definition(nodes, edges), {}, options={"maxConcurrency": 5})
        assert run.status == "COMPLETED"
        per_turn: dict[int, int] = {}
        for (name, _), turn in zip(run.activity_calls, run.scheduled_turns, strict=True):
            if name == "execute_action":
                per_turn[turn] = per_turn.get(turn, 0) + 1
        assert max(per_turn.values()) == 5
        assert len(functions.calls) == 12


class TestConditions:
    def definition(self, build: Any) -> dict[str, Any]:
        nodes = [
            build.node(T, "trigger"),
            build.node("check", "condition", "Big", expression="trigger.amount >= 1000"),
            build.node("review", "action", actionId="x/review"),
            build.node("review2", "action", actionId="x/review2"),
            build.node("auto", "action", actionId="x/auto"),
            build.node("join", "action", actionId="x/join"),
        ]
        edges = [
            build.edge(T, "check"),
            build.edge("check", "review", "true"),
            build.edge("review", "review2"),
            build.edge("check", "auto", "false"),
            build.edge("review2", "join"),
            build.edge("auto", "join"),
        ]
        return build.definition(nodes, edges)

    def test_true_branch_runs_and_false_branch_is_skipped_transitively(
        self, build: Any, functions: Any
    ) -> None:
        run = build.run(self.definition(build), {"amount": 5000})
        assert run.status == "COMPLETED"
        assert functions.node_keys() == ["review", "review2", "join"]
        skipped = {e["nodeKey"] for e in functions.events("node.skipped")}
        assert skipped == {"auto"}
        assert run.output["outputs"]["check"] == {
            "result": True,
            "expression": "trigger.amount >= 1000",
        }

    def test_false_branch_skips_everything_reachable_only_from_true(
        self, build: Any, functions: Any
    ) -> None:
        run = build.run(self.definition(build), {"amount": 5})
        assert functions.node_keys() == ["auto", "join"]
        assert {e["nodeKey"] for e in functions.events("node.skipped")} == {"review", "review2"}
        assert run.status == "COMPLETED"

    def test_a_node_fed_only_by_skipped_branches_is_skipped(
        self, build: Any, functions: Any
    ) -> None:
        nodes = [
            build.node(T, "trigger"),
            build.node("c", "condition", expression="false"),
            build.node("a", "action", actionId="x/a"),
            build.node("b", "action", actionId="x/b"),
        ]
        edges = [build.edge(T, "c"), build.edge("c", "a", "true"), build.edge("a", "b")]
        run = build.run(build.definition(nodes, edges), {})
        assert run.status == "COMPLETED" and functions.calls == []

    def test_a_condition_that_is_not_boolean_fails(self, build: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("c", "condition", expression="trigger.n + 1")
        )
        run = build.run(definition, {"n": 1})
        assert run.status == "FAILED" and "must evaluate to true or false" in run.failure


class TestDisabledNodes:
    def test_disabled_node_is_skipped_and_passes_control_on(
        self, build: Any, functions: Any
    ) -> None:
        functions.on("system/ai-classify", lambda _i: {"category": "question"})
        run = build.run(build.example("ai-triage.json"), {"subject": "s", "body": "b"})
        assert run.status == "COMPLETED", run.failure
        skipped = {e["nodeKey"]: e["data"]["reason"] for e in functions.events("node.skipped")}
        assert skipped["audit"] == "disabled"
        assert "audit" not in functions.node_keys()
        assert functions.node_keys() == [
            "classify",
            "reply",
        ]  # the false branch ran through the disabled node


class TestApprovals:
    def gate(self, build: Any, handles: tuple[str, ...] = ()) -> dict[str, Any]:
        nodes = [
            build.node(T, "trigger"),
            build.node(
                "gate",
                "approval-gate",
                "Manager",
                eventName="mgr",
                timeoutSeconds=3600,
                message="ok {{trigger.x}}?",
            ),
            build.node("yes", "action", actionId="x/yes"),
        ]
        edges = [build.edge(T, "gate"), build.edge("gate", "yes", "approved")]
        for handle in handles:
            nodes.append(build.node(handle, "action", actionId=f"x/{handle}"))
            edges.append(build.edge("gate", handle, handle))
        return build.definition(nodes, edges)

    def test_waits_with_status_then_approve(self, build: Any, functions: Any) -> None:
        run = build.start(self.gate(build), {"x": 1})
        assert run.status == "RUNNING"
        assert run.custom_status["phase"] == "awaiting_approval"
        assert run.custom_status["pendingApproval"]["eventName"] == "mgr"
        assert run.custom_status["pendingApproval"]["message"] == "ok 1?"
        assert run.custom_status["currentNodeIds"] == ["gate"]
        run.raise_event("mgr", {"approved": True, "reason": "fine", "respondedBy": "ann"})
        assert run.status == "COMPLETED"
        assert functions.node_keys() == ["yes"]
        assert run.output["outputs"]["gate"] == {
            "approved": True,
            "reason": "fine",
            "respondedBy": "ann",
            "outcome": "approved",
        }
        assert [e["type"] for e in functions.records if e.get("nodeKey") == "gate"][:1] == [
            "approval.requested"
        ]

    def test_reject_without_handle_ends_the_run_rejected(self, build: Any, functions: Any) -> None:
        run = build.start(self.gate(build), {"x": 1})
        run.raise_event("mgr", {"approved": False, "reason": "no budget"})
        assert run.status == "COMPLETED"
        assert run.output["phase"] == "rejected"
        assert run.output["message"] == "Manager: rejected (no budget)"
        assert functions.calls == []
        assert functions.finished[0]["phase"] == "rejected"

    def test_reject_with_handle_routes(self, build: Any, functions: Any) -> None:
        run = build.start(self.gate(build, ("rejected",)), {"x": 1})
        run.raise_event("mgr", {"approved": False})
        assert run.output["phase"] == "completed"
        assert functions.node_keys() == ["rejected"]

    def test_timeout_without_handle_ends_timed_out(
        self, build: Any, functions: Any, sim: Any
    ) -> None:
        run = build.start(self.gate(build), {"x": 1})
        sim.advance(run, timedelta(hours=2))
        assert run.status == "COMPLETED" and run.output["phase"] == "timed_out"
        assert functions.events("approval.timed_out")

    def test_timeout_with_handle_routes(self, build: Any, functions: Any, sim: Any) -> None:
        run = build.start(self.gate(build, ("timeout", "rejected")), {"x": 1})
        sim.advance(run)
        assert run.output["phase"] == "completed" and functions.node_keys() == ["timeout"]

    def test_an_invalid_payload_is_ignored_and_the_gate_keeps_waiting(
        self, build: Any, functions: Any
    ) -> None:
        run = build.start(self.gate(build), {"x": 1})
        run.raise_event("mgr", {"approve": "yes please"})
        assert run.status == "RUNNING"
        assert functions.events("approval.invalid")
        run.raise_event("mgr", {"approved": True})
        assert run.status == "COMPLETED" and functions.node_keys() == ["yes"]

    def test_default_event_name_and_timeout(self, build: Any, sim: Any) -> None:
        definition = build.chain(build.node(T, "trigger"), build.node("g1", "approval-gate"))
        run = build.start(definition, {})
        assert run.custom_status["pendingApproval"]["eventName"] == "approval_g1"
        assert run.next_timer() == sim.now + timedelta(hours=24)


class TestTimers:
    @pytest.mark.parametrize(
        ("config", "seconds"),
        [
            ({"durationSeconds": 30}, 30),
            ({"durationMinutes": 5}, 300),
            ({"durationHours": 2}, 7200),
            ({"duration": 1, "durationUnit": "days"}, 86400),
            ({"duration": "1h30m"}, 5400),
        ],
    )
    def test_duration_forms(
        self, build: Any, sim: Any, functions: Any, config: dict[str, Any], seconds: int
    ) -> None:
        definition = build.chain(
            build.node(T, "trigger"),
            build.node("t", "timer", **config),
            build.node("a", "action", actionId="x/a"),
        )
        run = build.start(definition, {})
        assert run.next_timer() == sim.now + timedelta(seconds=seconds)
        assert functions.calls == []
        sim.advance(run)
        assert run.status == "COMPLETED" and functions.node_keys() == ["a"]

    def test_until_a_templated_time(self, build: Any, sim: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("t", "timer", until="{{trigger.at}}")
        )
        run = build.start(definition, {"at": "2026-01-03T00:00:00Z"})
        assert run.next_timer().isoformat() == "2026-01-03T00:00:00+00:00"
        sim.advance(run)
        assert run.output["outputs"]["t"]["scheduledFor"] == "2026-01-03T00:00:00+00:00"

    def test_until_in_the_past_fires_at_once(self, build: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("t", "timer", until="2000-01-01T00:00:00Z")
        )
        assert build.run(definition, {}).status == "COMPLETED"

    def test_bad_until_fails_clearly(self, build: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("t", "timer", until="{{trigger.at}}")
        )
        run = build.run(definition, {"at": "next tuesday"})
        assert run.status == "FAILED" and "not an ISO 8601 time" in run.failure


class TestRetriesAndErrors:
    def flaky(self, failures: int, *, retryable: bool = True) -> Any:
        state = {"n": 0}

        def behaviour(_inp: dict[str, Any]) -> Any:
            state["n"] += 1
            if state["n"] <= failures:
                raise (RuntimeError if retryable else NonRetryableError)(
                    f"attempt {state['n']} failed"
                )
            return {"ok": True}

        return behaviour

    def retrying(self, build: Any, attempts: int, **extra: Any) -> dict[str, Any]:
        return build.chain(
            build.node(T, "trigger"),
            build.node(
                "a",
                "action",
                actionId="x/flaky",
                retry={
                    "maxAttempts": attempts,
                    "initialIntervalSeconds": 1,
                    "backoffCoefficient": 2,
                },
                **extra,
            ),
        )

    def test_retries_until_success(self, build: Any, functions: Any) -> None:
        functions.on("x/flaky", self.flaky(2))
        run = build.run(self.retrying(build, 3), {})
        assert run.status == "COMPLETED"
        assert len(functions.calls) == 3
        assert run.output["outputs"]["a"]["data"] == {"ok": True}

    def test_gives_up_after_max_attempts(self, build: Any, functions: Any) -> None:
        functions.on("x/flaky", self.flaky(10))
        run = build.run(self.retrying(build, 3), {})
        assert run.status == "FAILED" and len(functions.calls) == 3
        assert "attempt 3 failed" in run.failure

    def test_non_retryable_errors_are_not_retried(self, build: Any, functions: Any) -> None:
        functions.on("x/flaky", self.flaky(10, retryable=False))
        run = build.run(self.retrying(build, 5), {})
        assert run.status == "FAILED" and len(functions.calls) == 1

    def test_on_error_continue(self, build: Any, functions: Any) -> None:
        functions.on("x/flaky", self.flaky(10, retryable=False))
        definition = self.retrying(build, 1, onError="continue")
        definition["nodes"].append(
            build.node("after", "action", actionId="x/after", saw="{{a.error}}")
        )
        definition["edges"].append(build.edge("a", "after"))
        run = build.run(definition, {})
        assert run.status == "COMPLETED"
        assert functions.calls[-1]["input"] == {"saw": "attempt 1 failed"}
        failed = functions.events("node.failed")[0]
        assert failed["nodeKey"] == "a" and failed["data"]["continued"] is True


class TestCompensation:
    def test_saga_compensates_completed_steps_in_reverse_order(
        self, build: Any, functions: Any
    ) -> None:
        def car(inp: dict[str, Any]) -> Any:
            if inp["method"] == "POST" and inp["url"].endswith("/cars"):
                raise NonRetryableError("no cars left")
            return {"status": 200}

        functions.on("system/http-request", car)
        run = build.run(
            build.example("trip-booking-saga.json"), {"tripId": "t1", "bookingApi": "https://b"}
        )
        assert run.status == "FAILED"
        assert "no cars left" in run.failure
        compensations = [
            (c["nodeKey"], c["input"]["url"]) for c in functions.calls if c["compensationOf"]
        ]
        assert compensations == [
            ("hotel#compensate", "https://b/hotels/t1"),
            ("flight#compensate", "https://b/flights/t1"),
        ]
        assert [e["nodeKey"] for e in functions.events("node.compensated")] == ["hotel", "flight"]

    def test_stop_does_not_compensate(self, build: Any, functions: Any) -> None:
        def fail_car(inp: dict[str, Any]) -> Any:
            if inp["url"].endswith("/cars"):
                raise NonRetryableError("no cars")
            return {}

        functions.on("system/http-request", fail_car)
        definition = build.example("trip-booking-saga.json")
        for n in definition["nodes"]:
            n["config"].pop("onError", None)
        run = build.run(definition, {"tripId": "t1", "bookingApi": "https://b"})
        assert run.status == "FAILED"
        assert not [c for c in functions.calls if c["compensationOf"]]


class TestPublish:
    def test_publishes_templated_data(self, build: Any, functions: Any) -> None:
        functions.on("system/uuid", lambda _i: {"uuid": "u-1"})
        functions.on("system/validate", lambda _i: {"valid": True})
        run = build.run(build.example("order-events.json"), {"orderId": "o-7", "items": [1]})
        assert run.status == "COMPLETED"
        published = functions.published[0]
        assert (published["pubsubName"], published["topic"]) == ("pubsub", "orders.accepted")
        assert published["data"] == {"eventId": "u-1", "orderId": "o-7", "itemCount": True}


class TestLoops:
    def test_action_loop_with_concurrency_cap(self, build: Any, functions: Any) -> None:
        functions.on("x/double", lambda inp: {"v": inp["value"] * 2})
        definition = build.chain(
            build.node(T, "trigger"),
            build.node(
                "each",
                "loop",
                "Each",
                items="{{trigger.values}}",
                actionId="x/double",
                concurrency=2,
                value="{{item}}",
            ),
            build.node(
                "sum",
                "action",
                actionId="x/sum",
                total="{{Each.count}}",
                first="{{Each.results[0].data.v}}",
            ),
        )
        run = build.run(definition, {"values": [1, 2, 3, 4, 5]})
        assert run.status == "COMPLETED", run.failure
        assert [c["nodeKey"] for c in functions.calls[:5]] == [f"each[{i}]" for i in range(5)]
        assert functions.calls[-1]["input"] == {"total": 5, "first": 2}
        per_turn: dict[int, int] = {}
        for (name, payload), turn in zip(run.activity_calls, run.scheduled_turns, strict=True):
            if name == "execute_action" and payload["nodeKey"].startswith("each["):
                per_turn[turn] = per_turn.get(turn, 0) + 1
        assert max(per_turn.values()) == 2

    def test_body_loop_runs_a_sub_graph_per_item(self, build: Any, functions: Any) -> None:
        functions.on("firecrawl/scrape", lambda inp: {"markdown": f"page {inp['url']}"})
        functions.on(
            "system/ai-classify",
            lambda inp: {"category": "saas" if "a.com" in inp["text"] else "other"},
        )
        run = build.run(
            build.example("batch-enrich.json"),
            {"leads": [{"website": "a.com"}, {"website": "b.com"}]},
        )
        assert run.status == "COMPLETED", run.failure
        keys = functions.node_keys()
        assert "each[0].scrape" in keys and "each[1].classify" in keys
        assert run.output["outputs"]["each"]["results"][1]["data"] == {"category": "other"}
        # body records land in the run that owns the loop
        assert all(c["instanceId"] == "run-1" for c in functions.calls)

    def test_empty_and_non_list_items(self, build: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"), build.node("l", "loop", items="{{trigger.v}}", actionId="x/y")
        )
        assert build.run(definition, {"v": []}).output["outputs"]["l"] == {
            "results": [],
            "count": 0,
        }
        failed = build.run(definition, {"v": "nope"}, instance_id="run-2")
        assert failed.status == "FAILED" and "must be a list" in failed.failure


class TestSubWorkflows:
    def test_runs_a_saved_workflow_as_a_child(self, build: Any, functions: Any) -> None:
        child = build.chain(
            build.node(T, "trigger"),
            build.node("c1", "action", actionId="x/child", got="{{trigger.email}}"),
        )
        functions.definitions["diamond-fan-out"] = child
        functions.on("clerk/create-user", lambda _i: {"id": "user_1"})
        run = build.run(
            build.example("customer-onboarding.json"), {"customerId": "c", "email": "e@x"}
        )
        assert run.status == "COMPLETED", run.failure
        child_call = next(c for c in functions.calls if c["nodeKey"] == "c1")
        assert child_call["input"] == {"got": "e@x"}
        assert child_call["instanceId"] == "run-1--profile"
        assert run.output["outputs"]["profile"]["instanceId"] == "run-1--profile"
        started = [
            e
            for e in functions.records
            if e["type"] == "run.started" and e["data"]["labels"].get("parentInstanceId")
        ]
        assert started[0]["data"]["labels"]["workflowId"] == "diamond-fan-out"

    def test_missing_sub_workflow_fails_clearly(self, build: Any) -> None:
        run = build.run(
            build.example("customer-onboarding.json"), {"customerId": "c", "email": "e@x"}
        )
        assert run.status == "FAILED" and "was not found" in run.failure


class TestRerunReuse:
    def test_reused_nodes_are_not_called_again(self, build: Any, functions: Any) -> None:
        definition = build.chain(
            build.node(T, "trigger"),
            build.node("a", "action", actionId="x/a"),
            build.node("b", "action", actionId="x/b", prev="{{a.data.v}}"),
        )
        reuse = {
            "trigger": {"status": "completed", "output": {}},
            "a": {"status": "completed", "output": {"success": True, "data": {"v": 41}}},
        }
        run = build.run(definition, {}, reuse=reuse)
        assert run.status == "COMPLETED"
        assert functions.node_keys() == ["b"] and functions.calls[0]["input"] == {"prev": 41}
        reused = [e for e in functions.events("node.completed") if e["data"].get("reused")]
        assert {e["nodeKey"] for e in reused} == {"trigger", "a"}
