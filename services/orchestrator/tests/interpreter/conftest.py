"""Fakes for the interpreter's activities: functions are behaviours keyed by slug."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dapr.ext.workflow._durabletask.task import NonRetryableError

from orchestrator.interpreter.simulator import SimRun, Simulator

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"

Behaviour = Callable[[dict[str, Any]], Any]


class Functions:
    """Stands in for function-runner: records every call; raises like the real activity."""

    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.finished: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.definitions: dict[str, dict[str, Any]] = {}

    def on(self, slug: str, behaviour: Behaviour) -> None:
        self.behaviours[slug] = behaviour

    def execute(self, task: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(task)
        self.records.extend(task.get("records", []))
        behaviour = self.behaviours.get(task["functionSlug"], lambda inp: {"echo": inp})
        data = behaviour(task["input"])
        return {"success": True, "data": data, "error": None, "duration_ms": 1}

    def node_keys(self) -> list[str]:
        return [c["nodeKey"] for c in self.calls]

    def activities(self) -> dict[str, Callable[[Any], Any]]:
        def record(batch: dict[str, Any]) -> None:
            self.records.extend(batch["events"])

        def finish(task: dict[str, Any]) -> None:
            self.finished.append(task)
            self.records.extend(task["events"])

        def publish(task: dict[str, Any]) -> dict[str, Any]:
            self.published.append(task)
            return {
                "success": True,
                "data": {"topic": task["topic"], "published": True},
                "error": None,
                "duration_ms": 0,
            }

        def load(task: dict[str, Any]) -> dict[str, Any]:
            if task["workflowId"] not in self.definitions:
                raise NonRetryableError(f"sub-workflow {task['workflowId']!r} was not found")
            return {"definition": self.definitions[task["workflowId"]], "version": 1}

        return {
            "execute_action": self.execute,
            "record_events": record,
            "finish_run": finish,
            "publish_event": publish,
            "load_definition": load,
        }

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.records if e["type"] == event_type]

    def node_events(self, node_key: str) -> list[str]:
        return [e["type"] for e in self.records if e.get("nodeKey") == node_key]


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def sim(functions: Functions) -> Simulator:
    return Simulator(functions.activities())


class Build:
    """Builders for definitions, handed to tests as the ``build`` fixture."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @staticmethod
    def example(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
        return data

    def run(
        self,
        definition: dict[str, Any],
        trigger: Any = None,
        instance_id: str = "run-1",
        **extra: Any,
    ) -> SimRun:
        return self.sim.run(
            instance_id, {"definition": definition, "triggerData": trigger, **extra}
        )

    def start(
        self,
        definition: dict[str, Any],
        trigger: Any = None,
        instance_id: str = "run-1",
        **extra: Any,
    ) -> SimRun:
        """Start and settle without firing timers (for tests that drive time themselves)."""
        run = self.sim.start(
            instance_id, {"definition": definition, "triggerData": trigger, **extra}
        )
        self.sim.settle(run)
        return run

    @staticmethod
    def node(
        node_id: str, node_type: str, label: str = "", enabled: bool = True, **config: Any
    ) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": node_type,
            "label": label or node_id,
            "enabled": enabled,
            "config": config,
        }

    @staticmethod
    def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
        e: dict[str, Any] = {
            "id": f"{source}-{target}-{handle}",
            "source": source,
            "target": target,
        }
        if handle:
            e["sourceHandle"] = handle
        return e

    @staticmethod
    def definition(
        nodes: list[dict[str, Any]], edges: list[dict[str, Any]], wid: str = "wf"
    ) -> dict[str, Any]:
        return {"id": wid, "name": wid, "nodes": nodes, "edges": edges}

    def chain(self, *nodes: dict[str, Any]) -> dict[str, Any]:
        """A definition whose nodes are connected in the order given."""
        edges = [self.edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
        return self.definition(list(nodes), edges)


@pytest.fixture
def build(sim: Simulator) -> Build:
    return Build(sim)
