from __future__ import annotations

import pytest

from workflow_core.expressions import ExpressionError, compile_expression, evaluate_condition
from workflow_core.templates import NameIndex, Scope, TemplateError

pytestmark = pytest.mark.unit


@pytest.fixture
def scope() -> Scope:
    names = NameIndex()
    names.add("fetch-1", "Fetch Data")
    names.add("score", "score")
    return Scope(
        trigger={
            "amount": 150,
            "country": "DE",
            "tags": ["vip", "new"],
            "email": "Ada@Example.com",
        },
        outputs={
            "fetch-1": {"success": True, "data": {"status": 200, "items": [1, 2, 3]}},
            "score": {"data": {"value": 0.8}},
        },
        names=names,
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("trigger.amount > 100", True),
        ("trigger.amount >= 100 && trigger.country == 'DE'", True),
        ("trigger.amount < 100 || trigger.country in ['FR', 'DE']", True),
        ("!(trigger.amount > 100)", False),
        ("'vip' in trigger.tags", True),
        ("trigger.amount * 2 - 50 == 250", True),
        ("trigger.amount % 7 == 3", True),
        ("FetchData.data.status == 200", True),
        ('nodes["fetch-1"].data.items.size() == 3', True),
        ("size(FetchData.data.items) > 2 && FetchData.data.items.exists(x, x > 2)", True),
        ("score.data.value > 0.5", True),
        ("trigger.email.lowerAscii().endsWith('@example.com')", True),
        ("trigger.email.contains('@') && trigger.email.startsWith('Ada')", True),
        ("trigger.country.matches('^[A-Z]{2}$')", True),
        ("has(trigger.missing) ? false : true", True),
        ("{{trigger.amount}} > 100", True),
        ("{{FetchData.data.items[0]}} == 1", True),
        ("'x,y'.split(',').size() == 2 && ['a','b'].join('-') == 'a-b'", True),
        ("max([1, 5, 3]) == 5 && abs(-2) == 2", True),
    ],
)
def test_conditions(scope: Scope, expression: str, expected: bool) -> None:
    assert evaluate_condition(expression, scope) is expected


def test_templates_bind_values_not_text(scope: Scope) -> None:
    scope.trigger["name"] = "x' || true || '"
    assert evaluate_condition("{{trigger.name}} == 'nobody'", scope) is False


def test_unknown_name_lists_what_is_available(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match=r"unknown name 'Nope'.*FetchData.*trigger"):
        evaluate_condition("Nope.data > 1", scope)


def test_must_be_boolean(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match="must evaluate to true or false"):
        evaluate_condition("trigger.amount + 1", scope)


def test_parse_errors_are_clear() -> None:
    with pytest.raises(ExpressionError, match="does not parse"):
        compile_expression("trigger.amount >")


def test_missing_field_suggests_has(scope: Scope) -> None:
    with pytest.raises(ExpressionError, match="has\\("):
        evaluate_condition("trigger.nothing == 1", scope)


def test_bad_template_inside_expression(scope: Scope) -> None:
    with pytest.raises(TemplateError):
        evaluate_condition("{{Nope.x}} == 1", scope)


@pytest.mark.parametrize(
    "attack",
    ["__import__('os').system('true')", "open('/etc/passwd')", "trigger.__class__", "exec('1')"],
)
def test_python_is_not_reachable(scope: Scope, attack: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate_condition(attack, scope)


def test_variables_are_reported_for_static_checks() -> None:
    compiled = compile_expression('Fetch.data.ok && nodes["a-1"].x && {{trigger.y}}')
    assert set(compiled.variables()) == {"Fetch", "nodes"}
    assert compiled.node_keys() == ["a-1"]
    assert compiled.template_refs == ["trigger.y"]
