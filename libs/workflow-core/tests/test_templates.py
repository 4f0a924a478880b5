from __future__ import annotations

from typing import Any

import pytest

from workflow_core.templates import (
    NameIndex,
    Scope,
    TemplateError,
    find_references,
    parse_reference,
    render,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def scope() -> Scope:
    names = NameIndex()
    names.add("fetch-1", "Fetch Data")
    names.add("gen", "Generate Text")
    names.add("later", "Later")
    outputs: dict[str, Any] = {
        "fetch-1": {
            "success": True,
            "data": {
                "items": [{"id": "a", "n": 1}, {"id": "b", "n": 2}],
                "count": 2,
                "ok": True,
                "none": None,
                "odd key": "x",
                "ratio": 0.5,
            },
        },
        "gen": {"success": True, "data": {"text": "hello"}},
    }
    return Scope(
        trigger={"user": {"name": "Ada", "tags": ["x"]}, "n": 3}, outputs=outputs, names=names
    )


class TestReferenceForms:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{trigger.user.name}}", "Ada"),
            ("{{trigger.user.tags[0]}}", "x"),
            ("{{FetchData.data.count}}", 2),
            ("{{Fetch Data.data.count}}", 2),
            ("{{fetch-1.data.items[1].id}}", "b"),
            ("{{fetch-1.data.items[-1].n}}", 2),
            ('{{FetchData.data["odd key"]}}', "x"),
            ("{{ GenerateText.data.text }}", "hello"),
        ],
    )
    def test_every_form_resolves(self, scope: Scope, template: str, expected: Any) -> None:
        assert render(template, scope) == expected

    def test_loop_locals_shadow_nothing_else(self, scope: Scope) -> None:
        local = Scope(scope.trigger, scope.outputs, scope.names, {"item": {"id": 7}, "index": 0})
        assert render("{{item.id}}-{{index}}", local) == "7-0"


class TestTypes:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{FetchData.data.count}}", 2),
            ("{{FetchData.data.ok}}", True),
            ("{{FetchData.data.none}}", None),
            ("{{FetchData.data.ratio}}", 0.5),
            ("{{FetchData.data.items}}", [{"id": "a", "n": 1}, {"id": "b", "n": 2}]),
            ("{{trigger.user}}", {"name": "Ada", "tags": ["x"]}),
        ],
    )
    def test_whole_string_keeps_json_type(self, scope: Scope, template: str, expected: Any) -> None:
        value = render(template, scope)
        assert value == expected
        assert type(value) is type(expected)

    def test_embedded_becomes_text_with_objects_as_json(self, scope: Scope) -> None:
        assert render("n={{FetchData.data.count}} ok={{FetchData.data.ok}}", scope) == "n=2 ok=true"
        assert render("user: {{trigger.user}}", scope) == 'user: {"name":"Ada","tags":["x"]}'
        assert render("none={{FetchData.data.none}}", scope) == "none=null"

    def test_nested_structures_are_rendered_recursively(self, scope: Scope) -> None:
        value = {"a": ["{{trigger.n}}", {"b": "x{{trigger.n}}"}], "c": 5, "d": None}
        assert render(value, scope) == {"a": [3, {"b": "x3"}], "c": 5, "d": None}

    def test_two_templates_are_not_one(self, scope: Scope) -> None:
        assert render("{{trigger.n}}{{trigger.n}}", scope) == "33"

    def test_escaped_braces_stay_literal(self, scope: Scope) -> None:
        assert render("\\{{not.a.template}} {{trigger.n}}", scope) == "{{not.a.template}} 3"


class TestErrors:
    def test_unknown_node_lists_available_heads(self, scope: Scope) -> None:
        with pytest.raises(TemplateError) as err:
            render("{{Nope.data}}", scope)
        message = str(err.value)
        assert "unknown node 'Nope'" in message
        assert "trigger" in message and "FetchData (fetch-1)" in message
        assert "GenerateText (gen)" in message
        assert "trigger" in err.value.available

    def test_missing_field_lists_the_keys_there(self, scope: Scope) -> None:
        with pytest.raises(TemplateError) as err:
            render("{{FetchData.data.cuont}}", scope)
        assert "no field 'cuont' at FetchData.data" in str(err.value)
        assert "count" in err.value.available and "items" in err.value.available

    def test_index_out_of_range_says_the_length(self, scope: Scope) -> None:
        with pytest.raises(TemplateError, match=r"index 5 is out of range .* 2 items"):
            render("{{FetchData.data.items[5]}}", scope)

    def test_node_without_output(self, scope: Scope) -> None:
        with pytest.raises(TemplateError, match="has no output yet"):
            render("{{Later.x}}", scope)

    def test_reading_into_a_scalar(self, scope: Scope) -> None:
        with pytest.raises(TemplateError, match="which is a number"):
            render("{{FetchData.data.count.x}}", scope)

    def test_ambiguous_label(self, scope: Scope) -> None:
        scope.names.add("other", "Fetch Data")
        scope.outputs["other"] = {}  # type: ignore[index]
        with pytest.raises(TemplateError, match="ambiguous"):
            render("{{FetchData.data}}", scope)

    @pytest.mark.parametrize("bad", ["{{}}", "{{.x}}", "{{a..b}}", "{{a[x]}}", "{{a[0}}"])
    def test_malformed(self, scope: Scope, bad: str) -> None:
        with pytest.raises(TemplateError):
            render(bad, scope)


def test_find_references_walks_nested_config() -> None:
    refs = find_references(
        {"a": "{{x.y}} and {{trigger.z[0]}}", "b": [{"c": "{{N.d['k']}}"}], "e": 1}
    )
    assert [(r.head, r.path) for r in refs] == [
        ("x", ("y",)),
        ("trigger", ("z", 0)),
        ("N", ("d", "k")),
    ]


def test_parse_reference_keeps_text() -> None:
    ref = parse_reference(" Fetch Data.items[0] ")
    assert (
        ref.head == "Fetch Data"
        and ref.path == ("items", 0)
        and str(ref) == "{{Fetch Data.items[0]}}"
    )
