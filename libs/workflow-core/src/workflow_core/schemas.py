"""JSON Schema type compatibility between a source output and a target input (seed 004 §3.1).

The check is for design time and errs towards silence: a field is flagged only when
the declared types *cannot* match (no JSON value satisfies both), a required field of a
target object is missing from a source object that declares its properties, or two
enums share no value. Missing or partial schemas mean "unknown": compatible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Schema = Mapping[str, Any]
JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


class FunctionSpec(BaseModel):
    """What validation needs to know of a registry function."""

    model_config = ConfigDict(populate_by_name=True)

    slug: str
    input_schema: dict[str, Any] | None = Field(default=None, alias="inputSchema")
    output_schema: dict[str, Any] | None = Field(default=None, alias="outputSchema")


FunctionCatalog = Mapping[str, FunctionSpec]


def schema_types(schema: Schema | None) -> set[str] | None:
    """The JSON types a schema admits, or ``None`` for "anything / unknown"."""
    if not schema:
        return None
    if "const" in schema:
        return {_value_type(schema["const"])}
    if "enum" in schema and isinstance(schema["enum"], list):
        return {_value_type(v) for v in schema["enum"]}
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared} & JSON_TYPES or None
    if isinstance(declared, list):
        return {t for t in declared if t in JSON_TYPES} or None
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            union: set[str] = set()
            for sub in schema[key]:
                sub_types = schema_types(sub)
                if sub_types is None:
                    return None
                union |= sub_types
            return union
    return None


def _value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _overlap(source: set[str], target: set[str]) -> bool:
    expand = {"integer"} if "number" in source | target else set()
    src = source | (expand if "number" in source else set())
    tgt = target | (expand if "number" in target else set())
    return bool(src & tgt)


def incompatibilities(source: Schema | None, target: Schema | None, where: str = "") -> list[str]:
    """Why values of ``source`` can never satisfy ``target`` (empty list: compatible)."""
    if not source or not target:
        return []
    src_types, tgt_types = schema_types(source), schema_types(target)
    here = where or "value"
    if src_types is not None and tgt_types is not None and not _overlap(src_types, tgt_types):
        return [f"{here}: {_fmt(src_types)} cannot be used where {_fmt(tgt_types)} is expected"]
    problems: list[str] = []
    src_enum = _enum(source)
    tgt_enum = _enum(target)
    if src_enum is not None and tgt_enum is not None and not any(v in tgt_enum for v in src_enum):
        problems.append(f"{here}: none of {src_enum!r} is one of {tgt_enum!r}")
    if _is(source, "object") and _is(target, "object"):
        problems += _object_problems(source, target, where)
    if _is(source, "array") and _is(target, "array"):
        problems += incompatibilities(
            _dict(source.get("items")), _dict(target.get("items")), f"{where}[]"
        )
    return problems


def _object_problems(source: Schema, target: Schema, where: str) -> list[str]:
    problems: list[str] = []
    src_props = _dict(source.get("properties"))
    tgt_props = _dict(target.get("properties"))
    if src_props:
        for name in target.get("required", []) or []:
            if name not in src_props:
                problems.append(
                    f"{_join(where, name)}: required by the target, not produced by the source"
                )
    if src_props and tgt_props:
        for name, tgt in tgt_props.items():
            if name in src_props:
                problems += incompatibilities(
                    _dict(src_props[name]), _dict(tgt), _join(where, name)
                )
    return problems


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _is(schema: Schema, json_type: str) -> bool:
    types = schema_types(schema)
    return types is not None and json_type in types


def _dict(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _enum(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _fmt(types: set[str]) -> str:
    return " or ".join(sorted(types))


def schema_at(schema: Schema | None, path: Sequence[str | int]) -> Schema | None:
    """The sub-schema a template path points to, or ``None`` when not declared."""
    current = schema
    for segment in path:
        if not current:
            return None
        if isinstance(segment, int) or (isinstance(segment, str) and segment.isdigit()):
            current = _dict(current.get("items"))
            continue
        props = _dict(current.get("properties"))
        if props is None or segment not in props:
            return None
        current = _dict(props[segment])
    return current


def action_output_schema(output_schema: Schema | None) -> dict[str, Any]:
    """The envelope every action node outputs: function-runner's response."""
    return {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "data": dict(output_schema) if output_schema else {},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": "number"},
        },
    }
