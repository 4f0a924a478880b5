"""Server-side validation of a definition and of trigger data, for the canvas and before runs."""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from service_kit.problems import Unprocessable
from workflow_core.schemas import FunctionCatalog
from workflow_core.validation import Report, validate_document


def validate_definition(definition: Any, catalog: FunctionCatalog | None) -> Report:
    return validate_document(definition, catalog)


def issues_json(report: Report) -> list[dict[str, Any]]:
    return [i.model_dump(by_alias=True, exclude_none=True) for i in report.issues]


def require_valid(definition: Any, catalog: FunctionCatalog | None) -> None:
    report = validate_definition(definition, catalog)
    if not report.ok:
        errors = report.errors
        raise Unprocessable(
            f"the workflow has {len(errors)} problem{'s' if len(errors) != 1 else ''}; "
            f"first: {errors[0]}",
            errors=issues_json(report),
        )


def trigger_schema(definition: dict[str, Any]) -> dict[str, Any] | None:
    for node in definition.get("nodes", []):
        if isinstance(node, dict) and node.get("type") == "trigger":
            schema = (node.get("config") or {}).get("inputSchema")
            return schema if isinstance(schema, dict) else None
    return None


def require_trigger_data(definition: dict[str, Any], data: Any) -> None:
    """Check trigger data against the trigger's input schema: 422 naming every bad field."""
    schema = trigger_schema(definition)
    if not schema:
        return
    try:
        validator = jsonschema.Draft202012Validator(schema)
        found = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    except SchemaError as exc:
        raise Unprocessable(f"the trigger's input schema is invalid: {exc.message}") from exc
    if found:
        errors = [
            {
                "pointer": "/" + "/".join(str(p) for p in e.absolute_path),
                "field": ".".join(str(p) for p in e.absolute_path) or None,
                "message": e.message,
            }
            for e in found
        ]
        raise Unprocessable(f"trigger data is invalid: {errors[0]['message']}", errors=errors)
