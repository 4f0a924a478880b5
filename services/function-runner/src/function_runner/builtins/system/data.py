"""``system/set``: emit constant (already templated) values as the step's data."""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, builtin


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
