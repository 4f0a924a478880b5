"""The integration steps of ``examples/*`` fit their functions' input schemas, and the
design-time validator finds no missing input or type mismatch on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from function_runner.builtins.base import BUILTINS, load_builtins
from workflow_core.io import read_document
from workflow_core.nodes import ACTION_CONTROL_KEYS
from workflow_core.schemas import FunctionSpec
from workflow_core.validation import validate_document

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
load_builtins()


def _integration(slug: Any) -> bool:
    return isinstance(slug, str) and slug in BUILTINS and not slug.startswith("system/")


def _actions(nodes: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for node in nodes:
        config = node.get("config") or {}
        if _integration(config.get("actionId")):
            yield node["id"], config
        compensate = config.get("compensate")
        if isinstance(compensate, dict) and _integration(compensate.get("actionId")):
            yield (
                f"{node['id']}.compensate",
                {"actionId": compensate["actionId"], **compensate.get("input", {})},
            )
        body = config.get("body")
        if isinstance(body, dict):
            yield from _actions(body.get("nodes") or [])


STEPS = [
    (f"{path.name}:{node_id}", config)
    for path in sorted(EXAMPLES.glob("*.json")) + sorted(EXAMPLES.glob("*.yaml"))
    for node_id, config in _actions(read_document(path)["nodes"])
]


def test_the_examples_use_integrations() -> None:
    assert len(STEPS) >= 20


@pytest.mark.parametrize(("where", "config"), STEPS, ids=[s[0] for s in STEPS])
def test_example_step_fits_the_input_schema(where: str, config: dict[str, Any]) -> None:
    input = {k: v for k, v in config.items() if k not in ACTION_CONTROL_KEYS}
    jsonschema.validate(input, BUILTINS[config["actionId"]].input_schema)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_design_time_validation_of_integration_steps(path: Path) -> None:
    catalog = {
        slug: FunctionSpec(
            slug=slug, input_schema=spec.input_schema, output_schema=spec.output_schema
        )
        for slug, spec in BUILTINS.items()
    }
    document = read_document(path)
    integration_nodes = {node_id.split(".")[0] for node_id, _ in _actions(document["nodes"])}
    report = validate_document(document, catalog)
    problems = [
        str(issue)
        for issue in report.errors
        if issue.node_id in integration_nodes and issue.code in ("missing_input", "type_mismatch")
    ]
    assert problems == []
