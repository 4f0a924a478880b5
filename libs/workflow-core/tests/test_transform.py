from __future__ import annotations

from typing import Any

import pytest

from workflow_core.transform import TransformError, apply_pipeline, get_path, result_count

pytestmark = pytest.mark.unit

PEOPLE = [
    {
        "id": 1,
        "name": " Ann ",
        "team": "a",
        "score": 10,
        "tags": ["x", "y"],
        "addr": {"city": "Oslo"},
    },
    {"id": 2, "name": "bob", "team": "b", "score": 30, "tags": ["y"], "addr": {"city": "Rome"}},
    {"id": 3, "name": "Cy", "team": "a", "score": 20, "tags": [], "addr": {}},
]


def run(source: Any, *steps: dict[str, Any], seed: Any = None) -> Any:
    return apply_pipeline(source, list(steps), seed=seed)


class TestDataOperations:
    def test_select_map_flat_map_flatten_unique(self) -> None:
        assert run(PEOPLE, {"operation": "select", "fields": ["id", "addr.city"]})[0] == {
            "id": 1,
            "addr.city": "Oslo",
        }
        mapped = run(
            PEOPLE, {"operation": "map", "mappings": {"who": "id", "label": "{{team}}-{{id}}"}}
        )
        assert mapped[1] == {"who": 2, "label": "b-2"}
        assert run(PEOPLE, {"operation": "flatMap", "field": "tags"}) == ["x", "y", "y"]
        assert run([[1, [2]], [3]], {"operation": "flatten", "depth": 2}) == [1, 2, 3]
        assert run(PEOPLE, {"operation": "flatMap", "field": "tags"}, {"operation": "unique"}) == [
            "x",
            "y",
        ]
        assert [p["id"] for p in run(PEOPLE, {"operation": "unique", "field": "team"})] == [1, 2]

    def test_limit_skip_reverse(self) -> None:
        assert run(
            [1, 2, 3, 4], {"operation": "skip", "count": 1}, {"operation": "limit", "count": 2}
        ) == [2, 3]
        assert run([1, 2, 3], {"operation": "reverse"}) == [3, 2, 1]

    @pytest.mark.parametrize(
        ("operator", "value", "ids"),
        [
            ("eq", "a", [1, 3]),
            ("ne", "a", [2]),
            ("in", ["b"], [2]),
            ("startsWith", "a", [1, 3]),
            ("endsWith", "b", [2]),
            ("regex", "^[ab]$", [1, 2, 3]),
        ],
    )
    def test_filter_on_strings(self, operator: str, value: Any, ids: list[int]) -> None:
        out = run(
            PEOPLE, {"operation": "filter", "field": "team", "operator": operator, "value": value}
        )
        assert [p["id"] for p in out] == ids

    @pytest.mark.parametrize(
        ("operator", "value", "ids"),
        [("gt", 10, [2, 3]), ("gte", 20, [2, 3]), ("lt", 20, [1]), ("lte", 10, [1])],
    )
    def test_filter_on_numbers(self, operator: str, value: Any, ids: list[int]) -> None:
        out = run(
            PEOPLE, {"operation": "filter", "field": "score", "operator": operator, "value": value}
        )
        assert [p["id"] for p in out] == ids

    def test_filter_contains_and_exists(self) -> None:
        assert [
            p["id"]
            for p in run(
                PEOPLE,
                {"operation": "filter", "field": "tags", "operator": "contains", "value": "y"},
            )
        ] == [1, 2]
        assert [
            p["id"]
            for p in run(
                PEOPLE, {"operation": "filter", "field": "addr.city", "operator": "exists"}
            )
        ] == [1, 2]
        assert [
            p["id"]
            for p in run(
                PEOPLE,
                {"operation": "filter", "field": "addr.city", "operator": "exists", "value": False},
            )
        ] == [3]

    def test_filter_errors(self) -> None:
        with pytest.raises(TransformError, match="unknown"):
            run(PEOPLE, {"operation": "filter", "field": "x", "operator": "like", "value": 1})
        with pytest.raises(TransformError, match="regex"):
            run(PEOPLE, {"operation": "filter", "field": "x", "operator": "regex", "value": "("})


class TestAggregation:
    def test_group_by_and_aggregate(self) -> None:
        groups = run(
            PEOPLE,
            {"operation": "groupBy", "field": "team"},
            {
                "operation": "aggregate",
                "aggregations": [
                    {"field": "score", "function": "sum", "as": "total"},
                    {"field": "score", "function": "avg", "as": "mean"},
                ],
            },
        )
        assert [(g["key"], g["count"], g["total"], g["mean"]) for g in groups] == [
            ("a", 2, 30, 15.0),
            ("b", 1, 30, 30.0),
        ]
        flat = run(
            PEOPLE,
            {
                "operation": "aggregate",
                "aggregations": [
                    {"field": "score", "function": f} for f in ("min", "max", "count")
                ],
            },
        )
        assert flat == {"min_score": 10, "max_score": 30, "count_score": 3}
        with pytest.raises(TransformError, match="unknown"):
            run(PEOPLE, {"operation": "aggregate", "function": "median", "field": "score"})

    def test_join_inner_and_left(self) -> None:
        teams = [{"team": "a", "lead": "Ann"}]
        inner = run(PEOPLE, {"operation": "join", "with": teams, "on": "team"})
        assert [(p["id"], p["lead"]) for p in inner] == [(1, "Ann"), (3, "Ann")]
        left = run(
            PEOPLE,
            {"operation": "join", "with": teams, "on": "team", "type": "left", "as": "teamInfo"},
        )
        assert [p["teamInfo"] for p in left] == [teams[0], None, teams[0]]

    def test_sort_places_missing_last(self) -> None:
        data = [{"v": 2}, {"v": None}, {"v": 1}]
        assert run(data, {"operation": "sortBy", "field": "v", "order": "desc"}) == [
            {"v": 2},
            {"v": 1},
            {"v": None},
        ]
        assert run(["b", "a"], {"operation": "sort"}) == ["a", "b"]


class TestStringsAndMath:
    def test_string_operations(self) -> None:
        names = run(
            PEOPLE,
            {"operation": "trim", "field": "name"},
            {"operation": "uppercase", "field": "name", "as": "upper"},
        )
        assert [p["upper"] for p in names] == ["ANN", "BOB", "CY"]
        assert run("a,b , c", {"operation": "split", "separator": ",", "trim": True}) == [
            "a",
            "b",
            "c",
        ]
        assert run(["a", "b"], {"operation": "concat", "separator": "-"}) == "a-b"
        assert (
            run(
                PEOPLE,
                {"operation": "concat", "fields": ["team", "id"], "separator": ":", "as": "k"},
            )[0]["k"]
            == "a:1"
        )
        assert (
            run("hello world", {"operation": "replace", "search": "o", "replacement": "0"})
            == "hell0 w0rld"
        )
        assert (
            run(
                "a1b22",
                {"operation": "replace", "search": r"\d+", "replacement": "#", "regex": True},
            )
            == "a#b#"
        )
        assert run("abcdef", {"operation": "substring", "start": 1, "end": 3}) == "bc"
        assert run(PEOPLE, {"operation": "template", "template": "{{id}}@{{addr.city}}"}) == [
            "1@Oslo",
            "2@Rome",
            "3@",
        ]
        assert run(["A"], {"operation": "lowercase"}) == ["a"]
        with pytest.raises(TransformError, match="strings"):
            run([1], {"operation": "uppercase"})

    def test_math_operations(self) -> None:
        assert run([1.256, -2.5], {"operation": "round", "decimals": 1}) == [1.3, -2.5]
        assert run([1.5, -1.5], {"operation": "floor"}) == [1, -2]
        assert run([1.2], {"operation": "ceil"}) == [2]
        assert run([-3], {"operation": "abs"}) == [3]
        assert run([5, 50], {"operation": "clamp", "min": 0, "max": 10}) == [5, 10]
        assert run(
            [5], {"operation": "scale", "fromMin": 0, "fromMax": 10, "toMin": 0, "toMax": 100}
        ) == [50]
        assert run([2], {"operation": "scale", "factor": 1.5}) == [3]
        shares = run(PEOPLE, {"operation": "percentage", "field": "score"})
        assert [p["scorePercentage"] for p in shares] == [16.67, 50, 33.33]
        with pytest.raises(TransformError, match="numbers"):
            run(["x"], {"operation": "abs"})


class TestRandomIsSeeded:
    def test_same_seed_same_result(self) -> None:
        items = list(range(50))
        for op in (
            {"operation": "shuffle"},
            {"operation": "randomN", "count": 5},
            {"operation": "randomOne"},
        ):
            assert run(items, op, seed=42) == run(items, op, seed=42)
        assert run(items, {"operation": "shuffle"}, seed=1) != run(
            items, {"operation": "shuffle"}, seed=2
        )
        assert run(items, {"operation": "shuffle", "seed": "s"}) == run(
            items, {"operation": "shuffle"}, seed="s"
        )

    def test_seed_is_required(self) -> None:
        with pytest.raises(TransformError, match="seed"):
            run([1, 2], {"operation": "randomOne"})


class TestPipeline:
    def test_unknown_operation_names_step(self) -> None:
        with pytest.raises(TransformError, match="step 2: unknown operation 'explode'"):
            run([1], {"operation": "limit", "count": 1}, {"operation": "explode"})

    def test_source_is_not_mutated(self) -> None:
        data = [{"a": " x "}]
        run(data, {"operation": "trim", "field": "a"})
        assert data == [{"a": " x "}]

    def test_helpers(self) -> None:
        assert get_path({"a": [{"b": 1}]}, "a.0.b") == 1
        assert get_path({"a": 1}, "a.b", "d") == "d"
        assert (result_count([1, 2]), result_count({"a": 1}), result_count(None)) == (2, 1, 0)
