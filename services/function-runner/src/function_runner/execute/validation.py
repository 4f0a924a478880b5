"""JSON Schema validation of inputs and outputs with field-level errors."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for


@lru_cache(maxsize=1024)
def _compiled(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compiled(schema: Any) -> Validator:
    return _compiled(json.dumps(schema, sort_keys=True, separators=(",", ":")))


def _pointer(parts: list[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_errors(schema: Any, instance: Any, limit: int = 50) -> list[dict[str, Any]]:
    """Every violation, as ``{pointer, field, message, validator}`` (empty: valid)."""
    errors: list[dict[str, Any]] = []
    for error in sorted(compiled(schema).iter_errors(instance), key=lambda e: list(e.path)):
        errors.extend(_describe(error))
        if len(errors) >= limit:
            break
    return errors[:limit]


def _describe(error: ValidationError) -> list[dict[str, Any]]:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [
            name for name in required if name not in error.instance and f"'{name}'" in error.message
        ]
        if missing:
            return [
                {
                    "pointer": _pointer([*path, name]),
                    "field": ".".join(str(p) for p in [*path, name]),
                    "message": f"{name!r} is required",
                    "validator": "required",
                }
                for name in missing
            ]
    return [
        {
            "pointer": _pointer(path),
            "field": ".".join(str(p) for p in path) or "(root)",
            "message": error.message,
            "validator": str(error.validator),
        }
    ]
