"""Lossless JSON <-> YAML import and export of definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml

from workflow_core.model import WorkflowDefinition

Format = Literal["json", "yaml"]


class DocumentError(ValueError):
    pass


def detect_format(path: str | Path) -> Format:
    suffix = Path(path).suffix.lower()
    return "yaml" if suffix in (".yaml", ".yml") else "json"


def parse_text(text: str, fmt: Format) -> Any:
    """JSON or YAML text -> plain data; syntax errors name the line."""
    try:
        if fmt == "json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError(f"invalid YAML{where}: {problem}") from None


def read_document(path: str | Path) -> Any:
    return parse_text(Path(path).read_text(encoding="utf-8"), detect_format(path))


def load_definition(path: str | Path) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(read_document(path))


def dump_data(data: Any, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def dump_definition(definition: WorkflowDefinition, fmt: Format) -> str:
    return dump_data(definition.to_json_dict(), fmt)
