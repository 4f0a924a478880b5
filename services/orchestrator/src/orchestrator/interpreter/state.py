"""The pure run-state machine: which nodes are ready, skipped, done; no Dapr, no I/O.

Deterministic by construction: it iterates only over lists and insertion-ordered dicts
(never over sets of strings, whose order changes between processes), so replaying the
same history after a restart makes the same decisions.

Semantics (DESIGN.md §3): a node is *ready* when every incoming edge is resolved and at
least one was taken; it is *skipped* when all are resolved and none was taken, and then
none of its outgoing edges is taken either. A condition or approval gate takes only the
edges of its result handle. A disabled node is skipped but passes control on (a routing
node then takes its ``true`` / ``approved`` handle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.interpreter.contracts import NodeStatus
from workflow_core.graph import Edge, Graph, route
from workflow_core.model import SerializedNode, WorkflowDefinition
from workflow_core.templates import TRIGGER, NameIndex, Scope

DEFAULT_ROUTE = {"condition": "true", "approval-gate": "approved"}
FINISHED: tuple[NodeStatus, ...] = ("completed", "failed", "skipped", "compensated")


@dataclass
class NodeState:
    status: NodeStatus = "pending"
    output: Any = None
    error: str | None = None
    route: str | None = None
    reason: str | None = None


@dataclass
class RunState:
    definition: WorkflowDefinition
    trigger: Any
    locals: Mapping[str, Any] = field(default_factory=dict)
    outer_outputs: Mapping[str, Any] = field(default_factory=dict)
    outer_names: NameIndex | None = None

    def __post_init__(self) -> None:
        self.nodes: dict[str, SerializedNode] = {n.id: n for n in self.definition.nodes}
        self.graph = Graph.from_definition(self.definition)
        self.names = NameIndex.from_definition(self.definition)
        if self.outer_names is not None:
            for node_id, label in self.outer_names.labels.items():
                if node_id not in self.nodes:
                    self.names.add(node_id, label)
        self.node_state: dict[str, NodeState] = {n: NodeState() for n in self.nodes}
        self.edge_taken: dict[int, bool] = {}
        self._edge_index: dict[int, int] = {id(e): i for i, e in enumerate(self.graph.edges)}
        self.outputs: dict[str, Any] = dict(self.outer_outputs)
        self.completion_order: list[str] = []

    # --- queries ------------------------------------------------------------------------

    def status(self, node_id: str) -> NodeStatus:
        return self.node_state[node_id].status

    def _incoming_resolution(self, node_id: str) -> tuple[bool, bool]:
        """(all incoming edges resolved, at least one taken)."""
        edges = self.graph.incoming(node_id)
        if not edges:
            return True, True
        states = [self.edge_taken.get(self._edge_index[id(e)]) for e in edges]
        return all(s is not None for s in states), any(s is True for s in states)

    def ready(self) -> list[str]:
        """Pending nodes whose inputs are satisfied, in definition order."""
        out = []
        for node_id, state in self.node_state.items():
            if state.status == "pending":
                resolved, taken = self._incoming_resolution(node_id)
                if resolved and taken:
                    out.append(node_id)
        return out

    def unreachable(self) -> list[str]:
        """Pending nodes whose every incoming edge was not taken: to be skipped."""
        out = []
        for node_id, state in self.node_state.items():
            if state.status == "pending":
                resolved, taken = self._incoming_resolution(node_id)
                if resolved and not taken:
                    out.append(node_id)
        return out

    def active(self) -> list[str]:
        return [n for n, s in self.node_state.items() if s.status in ("running", "waiting")]

    def is_finished(self) -> bool:
        return all(s.status in FINISHED for s in self.node_state.values())

    def progress(self) -> int:
        if not self.node_state:
            return 100
        done = sum(1 for s in self.node_state.values() if s.status in FINISHED)
        return int(done * 100 / len(self.node_state))

    def scope(self, extra_locals: Mapping[str, Any] | None = None) -> Scope:
        local_values = dict(self.locals)
        if extra_locals:
            local_values.update(extra_locals)
        return Scope(
            trigger=self.trigger, outputs=self.outputs, names=self.names, locals=local_values
        )

    # --- transitions --------------------------------------------------------------------

    def start(self, node_id: str, *, waiting: bool = False) -> None:
        self.node_state[node_id].status = "waiting" if waiting else "running"

    def complete(self, node_id: str, output: Any, route_handle: str | None = None) -> None:
        state = self.node_state[node_id]
        state.status = "completed"
        state.output = output
        state.route = route_handle
        self.outputs[node_id] = output
        if self.nodes[node_id].kind == "trigger":
            self.outputs.setdefault(TRIGGER, output)
        self.completion_order.append(node_id)
        self._resolve_outgoing(node_id, route_handle)

    def fail(
        self, node_id: str, error: str, output: Any = None, *, continue_on: bool = False
    ) -> None:
        """Mark failed; with ``continue_on`` the output is visible and downstream runs."""
        state = self.node_state[node_id]
        state.status = "failed"
        state.error = error
        state.output = output
        if continue_on:
            self.outputs[node_id] = output
            self._resolve_outgoing(node_id, None)

    def skip(self, node_id: str, reason: str) -> None:
        state = self.node_state[node_id]
        state.status = "skipped"
        state.reason = reason
        for edge in self.graph.outgoing(node_id):
            self.edge_taken[self._edge_index[id(edge)]] = False

    def pass_through(self, node_id: str) -> None:
        """A disabled node: skipped, but control flows on along its default route."""
        state = self.node_state[node_id]
        state.status = "skipped"
        state.reason = "disabled"
        self._resolve_outgoing(node_id, DEFAULT_ROUTE.get(self.nodes[node_id].kind))

    def mark_compensated(self, node_id: str) -> None:
        self.node_state[node_id].status = "compensated"

    def _resolve_outgoing(self, node_id: str, route_handle: str | None) -> None:
        edges: list[Edge] = self.graph.outgoing(node_id)
        taken, not_taken = route(edges, self.nodes[node_id].kind, route_handle)
        for edge in taken:
            self.edge_taken[self._edge_index[id(edge)]] = True
        for edge in not_taken:
            self.edge_taken[self._edge_index[id(edge)]] = False
