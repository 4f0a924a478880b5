"""Data builtins: ``system/set``, ``system/transform``, ``system/jq``, ``system/validate``,
``system/template``."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import jq

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.execute.validation import field_errors
from workflow_core.templates import NameIndex, Scope, TemplateError, render_string, to_text
from workflow_core.transform import TransformError, apply_pipeline, result_count

JQ_MAX_RESULTS = 10_000


@builtin(
    slug="system/set",
    name="Set Values",
    description="Outputs the given values object as the step's data.",
    category="data",
    input_schema={
        "type": "object",
        "properties": {
            "values": {"type": "object", "description": "Values to output (templates allowed)."}
        },
        "required": ["values"],
    },
    output_schema={"type": "object"},
    timeout_seconds=10,
)
async def set_values(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    return dict(input["values"])


@builtin(
    slug="system/transform",
    name="Transform Data",
    description="Runs a pipeline of data, aggregation, string, math and seeded random "
    "operations over a value (the transform DSL).",
    category="data",
    input_schema={
        "type": "object",
        "properties": {
            "source": {"description": "The data to transform (usually a template)."},
            "pipeline": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"operation": {"type": "string"}},
                    "required": ["operation"],
                },
            },
            "seed": {
                "type": ["integer", "string"],
                "description": "Seed of the random operations; default: derived from the "
                "execution and node ids (stable across retries).",
            },
        },
        "required": ["source", "pipeline"],
    },
    output_schema={
        "type": "object",
        "properties": {"result": {}, "count": {"type": "integer"}},
        "required": ["result", "count"],
    },
    timeout_seconds=30,
)
async def transform(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    seed = input.get("seed")
    if seed is None:
        seed = hashlib.sha256(f"{ctx.execution_id}:{ctx.node_id}".encode()).hexdigest()[:16]
    try:
        result = apply_pipeline(input["source"], input["pipeline"], seed=seed)
    except TransformError as exc:
        raise FunctionError(str(exc), code="validation") from None
    return {"result": result, "count": result_count(result)}


def _run_jq(expression: str, data: Any) -> list[Any]:
    try:
        program = jq.compile(expression)
    except ValueError as exc:
        raise FunctionError(f"jq expression does not compile: {exc}", code="validation") from None
    results: list[Any] = []
    try:
        for value in program.input_value(data):
            results.append(value)
            if len(results) > JQ_MAX_RESULTS:
                raise FunctionError(
                    f"jq produced more than {JQ_MAX_RESULTS} results", code="validation"
                )
    except ValueError as exc:
        raise FunctionError(f"jq failed on the data: {exc}", code="validation") from None
    return results


@builtin(
    slug="system/jq",
    name="JQ",
    description="Applies a jq expression to data. One result is returned as is (an object's "
    "keys are also promoted to the top level); several become a list.",
    category="data",
    input_schema={
        "type": "object",
        "properties": {
            "expression": {"type": "string", "minLength": 1},
            "data": {"description": "Input of the expression (default null)."},
            "all": {"type": "boolean", "description": "Always return a list of results."},
        },
        "required": ["expression"],
    },
    output_schema={"type": "object", "properties": {"result": {}}, "required": ["result"]},
    timeout_seconds=30,
)
async def jq_transform(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    results = await asyncio.to_thread(_run_jq, input["expression"], input.get("data"))
    if input.get("all") or len(results) != 1:
        return {"result": results}
    (single,) = results
    if isinstance(single, dict):
        return {**{k: v for k, v in single.items() if k != "result"}, "result": single}
    return {"result": single}


@builtin(
    slug="system/validate",
    name="Validate Data",
    description="Validates data against a JSON Schema. Invalid data is a success with "
    "valid=false and the errors, unless failOnInvalid is set.",
    category="data",
    input_schema={
        "type": "object",
        "properties": {
            "data": {},
            "schema": {"type": "object"},
            "failOnInvalid": {"type": "boolean", "default": False},
        },
        "required": ["schema"],
    },
    output_schema={
        "type": "object",
        "properties": {"valid": {"type": "boolean"}, "errors": {"type": "array"}},
        "required": ["valid", "errors"],
    },
    timeout_seconds=30,
)
async def validate(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    schema = input["schema"]
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise FunctionError(
            f"schema is not valid JSON Schema: {exc.message}", code="validation"
        ) from None
    errors = field_errors(schema, input.get("data"), limit=100)
    if errors and input.get("failOnInvalid"):
        raise FunctionError(
            f"data is invalid: {errors[0]['message']} at {errors[0]['field']}",
            code="validation",
            details={"errors": errors},
        )
    return {"valid": not errors, "errors": errors}


@builtin(
    slug="system/template",
    name="Render Template",
    description="Renders text with {{...}} references to 'data' fields ({{name}}, "
    "{{data.name}}) and upstream node outputs ({{NodeLabel.data.field}}).",
    category="text",
    input_schema={
        "type": "object",
        "properties": {
            "template": {"type": "string"},
            "data": {"type": "object", "description": "Values the template may reference."},
        },
        "required": ["template"],
    },
    output_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    timeout_seconds=10,
)
async def template(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    data = input.get("data") or {}
    names = NameIndex()
    for key in ctx.node_outputs:
        if key != "trigger":
            names.add(key, key)
    scope = Scope(
        trigger=ctx.node_outputs.get("trigger"),
        outputs=ctx.node_outputs,
        names=names,
        locals={**data, "data": data},
    )
    try:
        rendered = render_string(input["template"], scope)
    except TemplateError as exc:
        raise FunctionError(str(exc), code="validation") from None
    return {"text": to_text(rendered)}
