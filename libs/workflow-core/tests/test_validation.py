from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from workflow_core.io import read_document
from workflow_core.schemas import FunctionSpec
from workflow_core.validation import Report, validate_document

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.*"))
pytestmark = pytest.mark.unit


def codes(report: Report) -> set[tuple[str, str | None]]:
    return {(i.code, i.node_id) for i in report.errors}


def base() -> dict[str, Any]:
    return {
        "id": "w",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Start",
                "config": {
                    "inputSchema": {
                        "type": "object",
                        "properties": {"amount": {"type": "number"}, "name": {"type": "string"}},
                        "additionalProperties": False,
                    }
                },
            },
            {
                "id": "a",
                "type": "action",
                "label": "Fetch",
                "config": {"actionId": "system/http-request", "url": "{{trigger.name}}"},
            },
            {
                "id": "b",
                "type": "action",
                "label": "Use",
                "config": {"actionId": "system/log", "message": "{{Fetch.data.x}}"},
            },
            {
                "id": "c",
                "type": "condition",
                "label": "Check",
                "config": {"expression": "Fetch.data.ok == true"},
            },
            {
                "id": "d",
                "type": "action",
                "label": "Yes",
                "config": {"actionId": "system/log", "message": "y"},
            },
        ],
        "edges": [
            {"id": "1", "source": "t", "target": "a"},
            {"id": "2", "source": "a", "target": "b"},
            {"id": "3", "source": "b", "target": "c"},
            {"id": "4", "source": "c", "target": "d", "sourceHandle": "true"},
        ],
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_is_valid(path: Path) -> None:
    report = validate_document(read_document(path))
    assert report.errors == [], [str(i) for i in report.errors]


def test_base_is_valid() -> None:
    assert validate_document(base()).issues == []


class TestPlantedErrors:
    """Each mutation plants one problem; the report names it with the right node id."""

    @pytest.mark.parametrize(
        ("mutate", "expected"),
        [
            (
                lambda d: d["nodes"][2]["config"].update(message="{{Ghost.x}}"),
                ("unknown_reference", "b"),
            ),
            (lambda d: d["nodes"][1]["config"].update(url="{{Use.data}}"), ("not_upstream", "a")),
            (
                lambda d: d["nodes"][1]["config"].update(url="{{Fetch.data}}"),
                ("self_reference", "a"),
            ),
            (
                lambda d: d["edges"].append({"id": "5", "source": "d", "target": "a"}),
                ("cycle", "a"),
            ),
            (lambda d: d["nodes"][2]["config"].pop("actionId"), ("invalid_config", "b")),
            (lambda d: d["nodes"][4].update(type="teleport"), ("unknown_node_type", "d")),
            (lambda d: d["nodes"].append(copy.deepcopy(d["nodes"][4])), ("duplicate_node_id", "d")),
            (
                lambda d: d["edges"].append({"id": "9", "source": "d", "target": "ghost"}),
                ("unknown_edge_endpoint", "d"),
            ),
            (lambda d: d["edges"][3].update(sourceHandle="maybe"), ("invalid_handle", "c")),
            (
                lambda d: d["nodes"][3]["config"].update(expression="Fetch.data.ok =="),
                ("invalid_expression", "c"),
            ),
            (
                lambda d: d["nodes"][3]["config"].update(expression="Yes.data == 1"),
                ("not_upstream", "c"),
            ),
            (
                lambda d: d["nodes"][3]["config"].update(expression="Nobody.data == 1"),
                ("unknown_reference", "c"),
            ),
            (
                lambda d: d["nodes"][2]["config"].update(message="{{trigger.nmae}}"),
                ("unknown_trigger_field", "b"),
            ),
            (
                lambda d: d["nodes"][2]["config"].update(message="{{Fetch.data[}}"),
                ("invalid_template", "b"),
            ),
            (
                lambda d: d["nodes"].__setitem__(
                    0, {**d["nodes"][0], "type": "action", "config": {"actionId": "x/y"}}
                ),
                ("missing_trigger", None),
            ),
            (
                lambda d: d["edges"].append({"id": "6", "source": "a", "target": "t"}),
                ("trigger_has_inputs", "t"),
            ),
        ],
    )
    def test_planted(self, mutate: Any, expected: tuple[str, str | None]) -> None:
        doc = base()
        mutate(doc)
        report = validate_document(doc)
        assert expected in codes(report), [str(i) for i in report.issues]

    def test_all_problems_are_reported_together(self) -> None:
        doc = base()
        doc["nodes"][2]["config"]["message"] = "{{Ghost.x}}"
        doc["nodes"][4]["type"] = "teleport"
        doc["edges"].append({"id": "5", "source": "b", "target": "a"})
        found = codes(validate_document(doc))
        assert {("unknown_reference", "b"), ("unknown_node_type", "d"), ("cycle", "a")} <= found

    def test_cycle_message_names_the_path(self) -> None:
        doc = base()
        doc["edges"].append({"id": "5", "source": "c", "target": "a"})
        cycle = next(i for i in validate_document(doc).errors if i.code == "cycle")
        assert cycle.message == "cycle: a -> b -> c -> a"

    def test_duplicate_labels_warn_and_ambiguous_use_is_an_error(self) -> None:
        doc = base()
        doc["nodes"][4]["label"] = "Fetch"
        report = validate_document(doc)
        assert {i.code for i in report.warnings} >= {"duplicate_label"}
        doc["nodes"][4]["config"]["message"] = "{{Fetch.data}}"
        assert ("ambiguous_reference", "d") in codes(validate_document(doc))

    def test_duplicate_approval_event_names(self) -> None:
        doc = base()
        doc["nodes"] += [
            {"id": "g1", "type": "approval-gate", "config": {"eventName": "ok"}},
            {"id": "g2", "type": "approval-gate", "config": {"eventName": "ok"}},
        ]
        doc["edges"] += [{"source": "d", "target": "g1"}, {"source": "g1", "target": "g2"}]
        found = codes(validate_document(doc))
        assert {("duplicate_event_name", "g1"), ("duplicate_event_name", "g2")} <= found

    def test_shape_errors_carry_the_node_id(self) -> None:
        doc = base()
        doc["nodes"][1]["position"] = "left"
        report = validate_document(doc)
        assert [(i.code, i.node_id) for i in report.errors] == [("invalid_shape", "a")]


class TestCatalog:
    catalog = {
        "system/http-request": FunctionSpec(
            slug="system/http-request",
            input_schema={
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}, "maxRedirects": {"type": "integer"}},
            },
            output_schema={
                "type": "object",
                "properties": {"status": {"type": "integer"}, "body": {}},
            },
        ),
        "system/log": FunctionSpec(
            slug="system/log",
            input_schema={
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}, "count": {"type": "integer"}},
            },
        ),
    }

    def test_unknown_function(self) -> None:
        doc = base()
        doc["nodes"][4]["config"]["actionId"] = "system/teleport"
        assert ("unknown_function", "d") in codes(validate_document(doc, self.catalog))

    def test_missing_required_input(self) -> None:
        doc = base()
        del doc["nodes"][1]["config"]["url"]
        report = validate_document(doc, self.catalog)
        issue = next(i for i in report.errors if i.code == "missing_input")
        assert issue.node_id == "a" and issue.field == "config.url"

    def test_type_mismatch_from_an_upstream_output(self) -> None:
        doc = base()
        doc["nodes"][2]["config"]["count"] = "{{Fetch.data.status}}"
        assert validate_document(doc, self.catalog).errors == []
        doc["nodes"][2]["config"]["message"] = "{{Fetch.data.status}}"
        issue = next(
            i for i in validate_document(doc, self.catalog).errors if i.code == "type_mismatch"
        )
        assert issue.node_id == "b" and "integer cannot be used where string" in issue.message

    def test_type_mismatch_from_trigger_schema_and_literals(self) -> None:
        doc = base()
        doc["nodes"][2]["config"]["count"] = "{{trigger.name}}"
        doc["nodes"][1]["config"]["maxRedirects"] = "soon"
        found = codes(validate_document(doc, self.catalog))
        assert {("type_mismatch", "b"), ("type_mismatch", "a")} <= found


class TestLoopBody:
    def loop_doc(self, body_message: str) -> dict[str, Any]:
        doc = base()
        doc["nodes"].append(
            {
                "id": "each",
                "type": "loop",
                "label": "Each",
                "config": {
                    "items": "{{Fetch.data.items}}",
                    "body": {
                        "nodes": [
                            {
                                "id": "inner",
                                "type": "action",
                                "label": "Inner",
                                "config": {"actionId": "system/log", "message": body_message},
                            }
                        ],
                        "edges": [],
                    },
                },
            }
        )
        doc["edges"].append({"source": "a", "target": "each"})
        return doc

    def test_item_and_upstream_outer_nodes_are_visible(self) -> None:
        assert (
            validate_document(
                self.loop_doc("{{item.name}} {{index}} {{Fetch.data}} {{trigger.name}}")
            ).errors
            == []
        )

    def test_body_problems_are_reported_on_the_loop_node(self) -> None:
        report = validate_document(self.loop_doc("{{Use.data}}"))
        issue = next(i for i in report.errors)
        assert (issue.code, issue.node_id) == ("not_upstream", "each")
        assert (
            "body of loop 'each'" in issue.message
            and issue.field == "config.body.inner.config.message"
        )
