from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_core.graph import CycleError, Edge, Graph, route

pytestmark = pytest.mark.unit


def graph(nodes: list[str], pairs: list[tuple[str, str]]) -> Graph:
    return Graph(nodes, [Edge(a, b) for a, b in pairs])


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Random DAGs: edges only go from a lower to a higher position of a random order."""
    size = draw(st.integers(min_value=1, max_value=30))
    nodes = [f"n{i}" for i in range(size)]
    order = draw(st.permutations(nodes))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(0, size - 1))
            .filter(lambda p: p[0] < p[1])
            .map(lambda p: (order[p[0]], order[p[1]])),
            max_size=size * 3,
        )
    )
    return nodes, pairs


class TestOrderAndLevels:
    @given(dags())
    @settings(max_examples=300, deadline=None)
    def test_topological_order_respects_every_edge(
        self, dag: tuple[list[str], list[tuple[str, str]]]
    ) -> None:
        nodes, pairs = dag
        order = graph(nodes, pairs).topological_order()
        assert sorted(order) == sorted(nodes)
        position = {n: i for i, n in enumerate(order)}
        assert all(position[a] < position[b] for a, b in pairs)

    @given(dags())
    @settings(max_examples=300, deadline=None)
    def test_levels_are_minimal(self, dag: tuple[list[str], list[tuple[str, str]]]) -> None:
        nodes, pairs = dag
        g = graph(nodes, pairs)
        level = {n: i for i, group in enumerate(g.levels()) for n in group}
        for a, b in pairs:
            assert level[a] < level[b]
        for node in nodes:
            preds = g.predecessors(node)
            if not preds:
                assert level[node] == 0
            else:  # no earlier level would do: one predecessor sits right before it
                assert level[node] == 1 + max(level[p] for p in preds)

    def test_diamond_levels(self) -> None:
        g = graph(
            ["t", "a", "b", "c", "j"],
            [("t", "a"), ("t", "b"), ("t", "c"), ("a", "j"), ("b", "j"), ("c", "j")],
        )
        assert g.levels() == [["t"], ["a", "b", "c"], ["j"]]

    def test_levels_raise_on_cycle(self) -> None:
        with pytest.raises(CycleError, match=r"a -> b -> a"):
            graph(["a", "b"], [("a", "b"), ("b", "a")]).levels()


class TestCycles:
    @given(dags(), st.data())
    @settings(max_examples=300, deadline=None)
    def test_planted_cycle_is_found_and_real(
        self, dag: tuple[list[str], list[tuple[str, str]]], data: st.DataObject
    ) -> None:
        nodes, pairs = dag
        g0 = graph(nodes, pairs)
        order = g0.topological_order()
        # plant a back edge from a later node to an earlier one that reaches it
        candidates = [(b, a) for a in order for b in g0.downstream(a)]
        if not candidates:
            candidates = [(nodes[0], nodes[0])]  # a self loop is a cycle too
        back = data.draw(st.sampled_from(candidates))
        g = graph(nodes, [*pairs, back])
        cycle = g.find_cycle()
        assert cycle is not None
        assert cycle[0] == cycle[-1]
        edges = {(e.source, e.target) for e in g.edges}
        assert all((cycle[i], cycle[i + 1]) in edges for i in range(len(cycle) - 1))
        assert len(set(cycle[:-1])) == len(cycle) - 1  # simple cycle

    @given(dags())
    @settings(max_examples=200, deadline=None)
    def test_dags_have_no_cycle(self, dag: tuple[list[str], list[tuple[str, str]]]) -> None:
        assert graph(*dag).find_cycle() is None
        assert graph(*dag).cycles() == []

    def test_every_independent_cycle_is_reported(self) -> None:
        g = graph(
            ["a", "b", "c", "d", "e", "s"],
            [("a", "b"), ("b", "a"), ("c", "d"), ("d", "e"), ("e", "c"), ("s", "s")],
        )
        found = {tuple(c) for c in g.cycles()}
        assert len(found) == 3
        assert ("s", "s") in found

    def test_long_chain_does_not_hit_recursion_limits(self) -> None:
        nodes = [f"n{i}" for i in range(5000)]
        g = graph(nodes, list(itertools.pairwise(nodes)))
        assert g.find_cycle() is None
        assert len(g.levels()) == 5000
        assert len(g.strongly_connected_components()) == 5000


class TestReachability:
    def test_upstream_and_downstream(self) -> None:
        g = graph(["t", "a", "b", "c"], [("t", "a"), ("a", "b"), ("t", "c")])
        assert g.upstream("b") == {"t", "a"}
        assert g.downstream("a") == {"b"}
        assert g.reachable_from(["c"]) == {"c"}
        assert g.roots() == ["t"]

    def test_edges_to_unknown_nodes_are_ignored_by_the_graph(self) -> None:
        g = graph(["a"], [("a", "ghost")])
        assert g.successors("a") == []


class TestRouting:
    edges = [Edge("c", "x", "true"), Edge("c", "y", "false"), Edge("c", "z", "true")]

    def test_condition_takes_only_its_handle(self) -> None:
        taken, skipped = route(self.edges, "condition", "true")
        assert [e.target for e in taken] == ["x", "z"]
        assert [e.target for e in skipped] == ["y"]

    def test_approval_default_handle_is_approved(self) -> None:
        edges = [Edge("g", "a"), Edge("g", "r", "rejected"), Edge("g", "t", "timeout")]
        assert [e.target for e in route(edges, "approval-gate", "approved")[0]] == ["a"]
        assert [e.target for e in route(edges, "approval-gate", "rejected")[0]] == ["r"]
        assert [e.target for e in route(edges, "approval-gate", "timeout")[0]] == ["t"]

    def test_other_nodes_take_every_edge(self) -> None:
        taken, skipped = route(self.edges, "action", None)
        assert len(taken) == 3 and skipped == []
