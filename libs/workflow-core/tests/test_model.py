from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow_core.io import DocumentError, dump_data, dump_definition, parse_text, read_document
from workflow_core.model import WorkflowDefinition
from workflow_core.nodes import (
    ActionNode,
    ApprovalNode,
    LoopNode,
    TimerNode,
    TriggerNode,
    config_problems,
    parse_node,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.*"))
pytestmark = pytest.mark.unit


class TestSeedFormat:
    def test_accepts_the_seed_json_unchanged(self, seed_definition: dict[str, Any]) -> None:
        definition = WorkflowDefinition.model_validate(seed_definition)
        assert [n.id for n in definition.nodes][:2] == ["trigger-1", "action-1"]
        assert definition.to_json_dict() == seed_definition

    def test_unknown_fields_survive(self, seed_definition: dict[str, Any]) -> None:
        doc = copy.deepcopy(seed_definition)
        doc["createdBy"] = "someone"
        doc["nodes"][1]["data"] = {"ui": {"colour": "red"}}
        doc["edges"][0]["animated"] = True
        assert WorkflowDefinition.model_validate(doc).to_json_dict() == doc

    def test_activity_is_an_alias_of_action(self) -> None:
        node = WorkflowDefinition.model_validate(
            {"id": "w", "nodes": [{"id": "a", "type": "activity", "config": {"actionId": "x/y"}}]}
        ).nodes[0]
        assert node.kind == "action"
        assert isinstance(parse_node(node), ActionNode)


class TestRoundTrip:
    @pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
    def test_json_yaml_json_is_lossless(self, path: Path) -> None:
        original = read_document(path)
        definition = WorkflowDefinition.model_validate(original)
        as_yaml = dump_definition(definition, "yaml")
        back = WorkflowDefinition.model_validate(yaml.safe_load(as_yaml))
        assert json.loads(dump_definition(back, "json")) == original

    def test_yaml_keeps_strings_that_look_like_other_types(self) -> None:
        data = {
            "id": "w",
            "nodes": [
                {
                    "id": "n",
                    "type": "action",
                    "config": {
                        "actionId": "system/set",
                        "a": "yes",
                        "b": "1.0",
                        "c": "null",
                        "d": "on",
                        "e": "",
                    },
                }
            ],
        }
        assert parse_text(dump_data(data, "yaml"), "yaml") == data

    def test_syntax_errors_name_the_line(self) -> None:
        with pytest.raises(DocumentError, match="line 2"):
            parse_text('{"id": "w",\n  "nodes": [}', "json")
        with pytest.raises(DocumentError, match="line"):
            parse_text("id: w\nnodes: [a, b\n", "yaml")


class TestTypedConfig:
    def test_each_example_node_parses_into_its_type(self) -> None:
        for path in EXAMPLES:
            definition = WorkflowDefinition.model_validate(read_document(path))
            for node in definition.nodes:
                assert config_problems(node) == [], (path.name, node.id)

    def test_action_separates_control_keys_from_function_input(self) -> None:
        node = WorkflowDefinition.model_validate(
            {
                "id": "w",
                "nodes": [
                    {
                        "id": "a",
                        "type": "action",
                        "config": {
                            "actionId": "system/http-request",
                            "url": "https://x",
                            "onError": "continue",
                            "retry": {"maxAttempts": 4},
                            "timeoutSeconds": 5,
                        },
                    }
                ],
            }
        ).nodes[0]
        typed = parse_node(node)
        assert isinstance(typed, ActionNode)
        assert typed.config.function_input() == {"url": "https://x"}
        assert typed.config.retry is not None and typed.config.retry.max_attempts == 4
        assert typed.config.on_error == "continue"

    @pytest.mark.parametrize(
        ("config", "seconds"),
        [
            ({"durationSeconds": 30}, 30),
            ({"durationMinutes": 5}, 300),
            ({"durationHours": 2}, 7200),
            ({"duration": 3, "durationUnit": "days"}, 3 * 86400),
            ({"duration": "1h30m"}, 5400),
            ({"duration": "500ms"}, 0.5),
        ],
    )
    def test_timer_duration_forms(self, config: dict[str, Any], seconds: float) -> None:
        node = WorkflowDefinition.model_validate(
            {"id": "w", "nodes": [{"id": "t", "type": "timer", "config": config}]}
        ).nodes[0]
        typed = parse_node(node)
        assert isinstance(typed, TimerNode)
        delay = typed.config.delay()
        assert delay is not None and delay.total_seconds() == seconds

    def test_timer_until_has_no_relative_delay(self) -> None:
        node = WorkflowDefinition.model_validate(
            {
                "id": "w",
                "nodes": [
                    {"id": "t", "type": "timer", "config": {"until": "2030-01-01T00:00:00Z"}}
                ],
            }
        ).nodes[0]
        typed = parse_node(node)
        assert isinstance(typed, TimerNode) and typed.config.delay() is None

    @pytest.mark.parametrize(
        ("node_type", "config", "field", "message"),
        [
            ("action", {}, "config.actionId", "is required"),
            ("action", {"actionId": "Not A Slug"}, "config.actionId", "plugin/name"),
            ("condition", {}, "config.expression", "is required"),
            ("timer", {}, "config", "needs one of"),
            ("timer", {"durationSeconds": 1, "durationMinutes": 1}, "config", "one duration form"),
            (
                "timer",
                {"duration": 2, "durationUnit": "fortnights"},
                "config",
                "unknown duration unit",
            ),
            ("publish-event", {"data": {}}, "config.topic", "is required"),
            ("loop", {"items": "{{trigger.x}}"}, "config", "exactly one of"),
            ("sub-workflow", {}, "config.workflowId", "is required"),
            ("trigger", {"triggerType": "schedule"}, "config", "cron"),
            ("trigger", {"triggerType": "event"}, "config", "topic"),
            ("approval-gate", {"timeoutHours": -1}, "config.timeoutHours", "greater than 0"),
        ],
    )
    def test_missing_or_bad_config_is_reported_by_field(
        self, node_type: str, config: dict[str, Any], field: str, message: str
    ) -> None:
        node = WorkflowDefinition.model_validate(
            {"id": "w", "nodes": [{"id": "n", "type": node_type, "config": config}]}
        ).nodes[0]
        problems = config_problems(node)
        assert any(p.field == field and message in p.message for p in problems), problems

    def test_approval_defaults(self) -> None:
        node = WorkflowDefinition.model_validate(
            {"id": "w", "nodes": [{"id": "gate", "type": "approval-gate", "config": {}}]}
        ).nodes[0]
        typed = parse_node(node)
        assert isinstance(typed, ApprovalNode)
        assert typed.event_name == "approval_gate"
        assert typed.config.timeout().total_seconds() == 24 * 3600

    def test_trigger_and_loop_types(self) -> None:
        doc = {
            "id": "w",
            "nodes": [
                {
                    "id": "t",
                    "type": "trigger",
                    "config": {"triggerType": "schedule", "cron": "* * * * *"},
                },
                {
                    "id": "l",
                    "type": "for-each",
                    "config": {"items": [1, 2], "actionId": "system/log"},
                },
            ],
        }
        definition = WorkflowDefinition.model_validate(doc)
        assert isinstance(parse_node(definition.nodes[0]), TriggerNode)
        loop = parse_node(definition.nodes[1])
        assert isinstance(loop, LoopNode) and loop.config.concurrency == 4
