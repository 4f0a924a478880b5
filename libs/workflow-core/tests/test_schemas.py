from __future__ import annotations

from typing import Any

import pytest

from workflow_core.schemas import incompatibilities, schema_at

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ({"type": "integer"}, {"type": "number"}),
        ({"type": "number"}, {"type": "integer"}),
        ({"type": ["string", "null"]}, {"type": "string"}),
        ({"type": "string"}, {}),
        ({}, {"type": "string"}),
        ({"enum": ["USD", "EUR"]}, {"type": "string", "enum": ["EUR", "GBP"]}),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"type": "object"}),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "number"}),
    ],
)
def test_compatible(source: dict[str, Any], target: dict[str, Any]) -> None:
    assert incompatibilities(source, target) == []


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ({"type": "string"}, {"type": "number"}, "string cannot be used where number"),
        ({"type": "array"}, {"type": "object"}, "array cannot be used where object"),
        ({"enum": ["USD"]}, {"enum": ["EUR", "GBP"]}, "none of"),
        ({"const": 5}, {"type": "string"}, "integer cannot be used"),
        (
            {"type": "object", "properties": {"amount": {"type": "string"}}},
            {"type": "object", "properties": {"amount": {"type": "number"}}},
            "amount: string cannot be used where number",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "required": ["currency"]},
            "currency: required",
        ),
        (
            {"type": "array", "items": {"type": "string"}},
            {"type": "array", "items": {"type": "boolean"}},
            "[]: string cannot be used where boolean",
        ),
    ],
)
def test_incompatible(source: dict[str, Any], target: dict[str, Any], reason: str) -> None:
    problems = incompatibilities(source, target)
    assert any(reason in p for p in problems), problems


def test_schema_at_follows_properties_and_items() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"id": {"type": "integer"}}},
            }
        },
    }
    assert schema_at(schema, ["items", 0, "id"]) == {"type": "integer"}
    assert schema_at(schema, ["nope"]) is None
