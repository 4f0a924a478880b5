"""Graph analysis of a definition: the edges are the truth (``executionOrder`` is not).

Cycle detection names the cycle path, topological levels give the parallel groups,
upstream/reachability queries back template validation and skip propagation, and
handle-aware routing says which outgoing edges a condition or approval result takes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from workflow_core.model import SerializedEdge, WorkflowDefinition

CONDITION_HANDLES = ("true", "false")
APPROVAL_HANDLES = ("approved", "rejected", "timeout")
ROUTING_HANDLES: Mapping[str, tuple[str, ...]] = {
    "condition": CONDITION_HANDLES,
    "approval-gate": APPROVAL_HANDLES,
}


class CycleError(ValueError):
    def __init__(self, path: Sequence[str]) -> None:
        self.path = list(path)
        super().__init__(f"cycle: {' -> '.join(self.path)}")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    handle: str | None = None
    id: str = ""


@dataclass
class Graph:
    """A directed graph over node ids with handle-labelled edges."""

    nodes: list[str]
    edges: list[Edge]
    _out: dict[str, list[Edge]] = field(init=False, repr=False)
    _in: dict[str, list[Edge]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._out = {n: [] for n in self.nodes}
        self._in = {n: [] for n in self.nodes}
        for edge in self.edges:
            if edge.source in self._out and edge.target in self._in:
                self._out[edge.source].append(edge)
                self._in[edge.target].append(edge)

    @classmethod
    def from_definition(cls, definition: WorkflowDefinition) -> Graph:
        return cls.from_parts([n.id for n in definition.nodes], definition.edges)

    @classmethod
    def from_parts(cls, node_ids: Iterable[str], edges: Iterable[SerializedEdge]) -> Graph:
        ids = list(dict.fromkeys(node_ids))
        return cls(
            ids,
            [Edge(e.source, e.target, e.source_handle, e.id) for e in edges],
        )

    # --- neighbourhood ------------------------------------------------------------------

    def outgoing(self, node: str) -> list[Edge]:
        return self._out.get(node, [])

    def incoming(self, node: str) -> list[Edge]:
        return self._in.get(node, [])

    def successors(self, node: str) -> list[str]:
        return list(dict.fromkeys(e.target for e in self.outgoing(node)))

    def predecessors(self, node: str) -> list[str]:
        return list(dict.fromkeys(e.source for e in self.incoming(node)))

    def roots(self) -> list[str]:
        return [n for n in self.nodes if not self._in[n]]

    # --- reachability -------------------------------------------------------------------

    def upstream(self, node: str) -> set[str]:
        """Every node with a path to ``node`` (its transitive predecessors)."""
        return self._walk([node], self.predecessors)

    def downstream(self, node: str) -> set[str]:
        """Every node reachable from ``node``."""
        return self._walk([node], self.successors)

    def reachable_from(self, starts: Iterable[str]) -> set[str]:
        starts = list(starts)
        return set(starts) | self._walk(starts, self.successors)

    @staticmethod
    def _walk(starts: list[str], step: object) -> set[str]:
        assert callable(step)
        seen: set[str] = set()
        queue = deque(starts)
        while queue:
            for nxt in step(queue.popleft()):
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    # --- cycles and order ---------------------------------------------------------------

    def find_cycle(self) -> list[str] | None:
        """A cycle as a closed path ``[a, b, a]``, or ``None`` for a DAG (iterative DFS)."""
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self.nodes, white)
        for start in self.nodes:
            if colour[start] != white:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = [start]
            colour[start] = grey
            while stack:
                node, index = stack[-1]
                succ = self.successors(node)
                if index < len(succ):
                    stack[-1] = (node, index + 1)
                    nxt = succ[index]
                    if colour[nxt] == grey:
                        return [*path[path.index(nxt) :], nxt]
                    if colour[nxt] == white:
                        colour[nxt] = grey
                        stack.append((nxt, 0))
                        path.append(nxt)
                else:
                    colour[node] = black
                    stack.pop()
                    path.pop()
        return None

    def cycles(self) -> list[list[str]]:
        """One cycle per strongly connected component that has one (so several independent
        cycles are all reported), each as a closed path."""
        found = []
        for component in self.strongly_connected_components():
            members = set(component)
            if len(component) == 1:
                node = component[0]
                if node not in self.successors(node):
                    continue
            sub = Graph(
                [n for n in self.nodes if n in members],
                [e for e in self.edges if e.source in members and e.target in members],
            )
            cycle = sub.find_cycle()
            if cycle is not None:
                found.append(cycle)
        return found

    def strongly_connected_components(self) -> list[list[str]]:
        """Tarjan's algorithm, iterative (no recursion limit on long chains)."""
        index_of: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        components: list[list[str]] = []
        counter = 0
        for root in self.nodes:
            if root in index_of:
                continue
            work: list[tuple[str, int]] = [(root, 0)]
            while work:
                node, i = work[-1]
                if i == 0:
                    index_of[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack.add(node)
                succ = self.successors(node)
                if i < len(succ):
                    work[-1] = (node, i + 1)
                    nxt = succ[i]
                    if nxt not in index_of:
                        work.append((nxt, 0))
                    elif nxt in on_stack:
                        low[node] = min(low[node], index_of[nxt])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index_of[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component[::-1])
        return components

    def levels(self) -> list[list[str]]:
        """Parallel groups: level 0 has no predecessors; every node sits one level after
        its latest predecessor (the earliest level it can run at). Raises CycleError."""
        cycle = self.find_cycle()
        if cycle is not None:
            raise CycleError(cycle)
        indegree = {n: len(self.predecessors(n)) for n in self.nodes}
        level = dict.fromkeys(self.nodes, 0)
        queue = deque(n for n in self.nodes if indegree[n] == 0)
        while queue:
            node = queue.popleft()
            for nxt in self.successors(node):
                level[nxt] = max(level[nxt], level[node] + 1)
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    queue.append(nxt)
        groups: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for node in self.nodes:  # keeps definition order inside a group
            groups[level[node]].append(node)
        return groups

    def topological_order(self) -> list[str]:
        return [n for group in self.levels() for n in group]


def route(
    edges: Iterable[Edge], node_kind: str, result: str | None
) -> tuple[list[Edge], list[Edge]]:
    """Split a finished node's outgoing edges into (taken, not taken).

    Condition nodes take the edges whose handle equals ``result`` (``"true"``/``"false"``).
    Approval gates take ``approved``/``rejected``/``timeout`` edges; an edge without a handle
    counts as ``approved``. Other nodes take every edge.
    """
    edges = list(edges)
    if node_kind == "condition":
        taken = [e for e in edges if e.handle == result]
    elif node_kind == "approval-gate":
        taken = [e for e in edges if (e.handle or "approved") == result]
    else:
        return edges, []
    return taken, [e for e in edges if e not in taken]
