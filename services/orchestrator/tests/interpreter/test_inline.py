"""Instant runs (``inline.run_instantly``): only a run whose first turn ends it with no
side effect is decided in-process, and its outcome is the one the engine reaches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.interpreter.inline import may_run_instantly, run_instantly
from workflow_core.model import WorkflowDefinition

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # the simulator's clock: same timestamps
EXAMPLES = [
    "ai-triage.json",
    "batch-enrich.json",
    "content-approval.json",
    "customer-onboarding.json",
    "delayed-reminder.json",
    "diamond-fan-out.json",
    "linear-http-chain.json",
    "order-events.json",
    "order-routing.json",
    "payment-failed-followup.json",
    "ten-step-chain.json",
    "trip-booking-saga.json",
]


def run_input(definition: dict[str, Any], trigger: Any = None) -> dict[str, Any]:
    return {"definition": definition, "triggerData": trigger}


def test_the_n8n_shape_is_instant_with_the_engines_outcome(build: Any, functions: Any) -> None:
    definition = build.example("webhook-set-respond.json")
    trigger = {"order": 7}
    assert may_run_instantly(WorkflowDefinition.model_validate(definition))
    instant = run_instantly("run-1", run_input(definition, trigger), NOW)
    assert instant is not None and instant.runtime_status == "COMPLETED"
    simulated = build.run(definition, trigger)
    assert simulated.status == "COMPLETED"
    assert instant.result is not None
    assert instant.result.dump() == simulated.output
    assert instant.result.result["data"] == {
        "status": 200,
        "body": {"received": trigger, "ok": True},
    }
    # The records the engine's finish_run activity would have written, to the letter.
    assert [e.dump() for e in instant.finish.events] == functions.finished[0]["events"]
    assert functions.calls == []


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("trigger", [{}, {"payload": "x", "amount": 5, "email": "a@b.c"}])
def test_instant_exactly_when_the_first_turn_only_finishes(
    build: Any, functions: Any, name: str, trigger: Any
) -> None:
    """Against the simulator (the engine's replay): a run is instant exactly when its
    first turn schedules nothing but finish_run, and then it ends the same way. (Some
    examples fail on the missing trigger fields before any side effect: instant too.)"""
    definition = build.example(name)
    instant = run_instantly("run-1", run_input(definition, trigger), NOW)
    simulated = build.run(definition, trigger)
    first_turn = [
        n
        for n, turn in zip(
            (n for n, _ in simulated.activity_calls), simulated.scheduled_turns, strict=True
        )
        if turn == 1
    ]
    if instant is None:
        assert first_turn != ["finish_run"]
        return
    assert first_turn == ["finish_run"] and functions.calls == []
    assert instant.runtime_status == simulated.status
    assert [e.dump() for e in instant.finish.events] == functions.finished[0]["events"]
    if simulated.status == "COMPLETED":
        assert instant.result is not None and instant.result.dump() == simulated.output
    else:
        assert instant.failure == simulated.failure


def test_a_chain_of_actions_is_left_to_the_engine(build: Any) -> None:
    definition = build.example("ten-step-chain.json")
    assert not may_run_instantly(WorkflowDefinition.model_validate(definition))
    assert run_instantly("run-1", run_input(definition, {"payload": "x"}), NOW) is None


def test_a_failed_pure_node_fails_the_run_instantly(build: Any) -> None:
    definition = build.chain(
        build.node("t", "trigger"),
        build.node("bad", "action", actionId="system/transform", source=1),
        build.node("after", "action", actionId="system/set", values={"x": 1}),
    )
    instant = run_instantly("run-1", run_input(definition), NOW)
    assert instant is not None and instant.runtime_status == "FAILED"
    assert instant.result is None
    assert instant.failure is not None and "pipeline" in instant.failure
    kinds = [(e.type, e.node_id) for e in instant.finish.events]
    assert ("node.failed", "bad") in kinds and ("node.skipped", "after") in kinds


def test_a_compensation_needs_the_engine(build: Any) -> None:
    """A pure node that fails with onError=compensate has completed steps to undo, and
    undoing them is an action: the first turn schedules it, so the run is not instant."""
    definition = build.chain(
        build.node("t", "trigger"),
        build.node(
            "book",
            "action",
            actionId="system/set",
            values={"booked": True},
            compensate={"actionId": "system/http-request", "input": {"url": "https://x/undo"}},
        ),
        build.node("bad", "action", actionId="system/transform", source=1, onError="compensate"),
    )
    assert may_run_instantly(WorkflowDefinition.model_validate(definition))
    assert run_instantly("run-1", run_input(definition), NOW) is None


def test_disabled_side_effects_do_not_stop_a_run_from_being_instant(build: Any) -> None:
    definition = build.chain(
        build.node("t", "trigger"),
        build.node("call", "action", enabled=False, actionId="system/http-request", url="x"),
        build.node("set", "action", actionId="system/set", values={"v": "{{t.v}}"}),
    )
    assert may_run_instantly(WorkflowDefinition.model_validate(definition))
    instant = run_instantly("run-1", run_input(definition, {"v": 3}), NOW)
    assert instant is not None and instant.result is not None
    assert instant.result.result["data"] == {"v": 3}
