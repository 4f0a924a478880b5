"""kill -9 the orchestrator or the sidecar at awkward moments: every run still finishes,
and no node is completed twice."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
T = "trigger"


def completed_once(platform: Any, instance: str) -> Counter[str]:
    events = platform.events(instance)
    counts = Counter(e["nodeId"] for e in events if e["type"] == "node.completed")
    assert all(n == 1 for n in counts.values()), f"a node completed twice: {counts}"
    return counts


def wait_calls(
    platform: Any, slug: str, instance: str, count: int = 1, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = [
            c
            for c in platform.fr.calls
            if c["function_slug"] == slug and c["execution_id"] == instance
        ]
        if len(calls) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{slug} was not called {count} time(s) for {instance}")


def test_orchestrator_killed_mid_activity(own_platform: Any, defs: Any) -> None:
    definition = defs.chain(
        "crash-activity",
        defs.node(T, "trigger"),
        defs.node("slow", "action", actionId="test/block", gate="g1"),
        defs.node("after", "action", actionId="test/echo"),
    )
    instance = own_platform.start_run(definition, {})
    wait_calls(own_platform, "test/block", instance)
    own_platform.kill(own_platform.orchestrator)
    own_platform.start_orchestrator()
    wait_calls(own_platform, "test/block", instance, count=2)  # redelivered to the new process
    own_platform.fr.release("g1")
    status = own_platform.finished(instance, timeout=90)
    assert status["runtimeStatus"] == "COMPLETED", status
    counts = completed_once(own_platform, instance)
    assert counts["slow"] == 1 and counts["after"] == 1


def test_orchestrator_killed_while_waiting_on_an_approval_and_a_timer(
    own_platform: Any, defs: Any
) -> None:
    nodes = [
        defs.node(T, "trigger"),
        defs.node("gate", "approval-gate", timeoutSeconds=3600),
        defs.node("wait", "timer", durationSeconds=3),
        defs.node("join", "action", actionId="test/echo"),
    ]
    edges = [
        defs.edge(T, "gate"),
        defs.edge(T, "wait"),
        defs.edge("gate", "join", "approved"),
        defs.edge("wait", "join"),
    ]
    instance = own_platform.start_run(defs.definition("crash-waits", nodes, edges), {})
    own_platform.wait(
        instance, lambda s: s["phase"] == "awaiting_approval" and "wait" in s["currentNodeIds"]
    )
    own_platform.kill(own_platform.orchestrator)
    time.sleep(4)  # the timer falls due while nobody runs the workflow
    own_platform.start_orchestrator()
    with own_platform.client() as client:
        assert (
            client.post(
                f"/api/v2/workflows/{instance}/approvals/gate", json={"approved": True}
            ).status_code
            == 202
        )
    status = own_platform.finished(instance, timeout=90)
    assert status["phase"] == "completed", status
    assert status["outputs"]["wait"]["firedAt"]
    counts = completed_once(own_platform, instance)
    assert counts["join"] == 1


def test_sidecar_killed_mid_run(own_platform: Any, defs: Any) -> None:
    definition = defs.chain(
        "crash-sidecar",
        defs.node(T, "trigger"),
        defs.node("s1", "action", actionId="test/sleep", seconds=2),
        defs.node("s2", "action", actionId="test/echo"),
        defs.node("t", "timer", durationSeconds=1),
        defs.node("s3", "action", actionId="test/echo"),
    )
    instance = own_platform.start_run(definition, {})
    wait_calls(own_platform, "test/sleep", instance)
    own_platform.kill(own_platform.sidecar)
    time.sleep(1)
    own_platform.start_sidecar()
    status = own_platform.finished(instance, timeout=120)
    assert status["phase"] == "completed", status
    counts = completed_once(own_platform, instance)
    assert counts["s1"] == counts["s2"] == counts["s3"] == 1
