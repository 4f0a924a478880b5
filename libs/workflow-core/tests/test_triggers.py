"""Trigger configuration checks: cron, time zone, event filter, webhook and dead-letter
options, each reported on the trigger node."""

from __future__ import annotations

from typing import Any

import pytest

from workflow_core.model import SerializedNode
from workflow_core.nodes import TriggerConfig, TriggerNode, parse_node
from workflow_core.validation import validate_document

pytestmark = pytest.mark.unit


def document(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "w",
        "nodes": [
            {"id": "when", "type": "trigger", "label": "When", "config": config},
            {
                "id": "log",
                "type": "action",
                "label": "Log",
                "config": {"actionId": "system/log", "message": "hi"},
            },
        ],
        "edges": [{"id": "e", "source": "when", "target": "log"}],
    }


def problems(config: dict[str, Any]) -> list[tuple[str, str | None, str | None, str]]:
    report = validate_document(document(config))
    return [(i.code, i.node_id, i.field, i.message) for i in report.errors]


class TestSchedule:
    @pytest.mark.parametrize(
        "cron", ["*/5 * * * *", "0 9 * * mon-fri", "* * * * * */10", "@hourly", "0  9 * * *"]
    )
    def test_valid_cron_expressions(self, cron: str) -> None:
        assert problems({"triggerType": "schedule", "cron": cron}) == []

    @pytest.mark.parametrize(
        ("cron", "says"),
        [
            ("61 * * * *", "not valid"),
            ("* * *", "3 field(s)"),
            ("* * * * * * *", "7 field(s)"),
            ("every minute", "field(s)"),
        ],
    )
    def test_invalid_cron_names_the_node_and_field(self, cron: str, says: str) -> None:
        [(code, node, field, message)] = problems({"triggerType": "schedule", "cron": cron})
        assert (code, node, field) == ("invalid_config", "when", "config.cron")
        assert says in message

    def test_cron_whitespace_is_normalised(self) -> None:
        node = parse_node(
            SerializedNode.model_validate(
                {"id": "t", "type": "trigger", "config": {"cron": " 0   9 * * * "}}
            )
        )
        assert isinstance(node, TriggerNode)
        assert node.config.cron == "0 9 * * *"

    def test_unknown_time_zone(self) -> None:
        [(code, node, field, message)] = problems(
            {"triggerType": "schedule", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}
        )
        assert (code, node, field) == ("invalid_config", "when", "config.timezone")
        assert "Mars/Olympus" in message

    def test_known_time_zone(self) -> None:
        config = {"triggerType": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Paris"}
        assert problems(config) == []

    def test_cron_and_interval_are_exclusive_and_one_is_needed(self) -> None:
        both = problems({"triggerType": "schedule", "cron": "* * * * *", "intervalSeconds": 5})
        assert [(c, n) for c, n, _, _ in both] == [("invalid_config", "when")]
        neither = problems({"triggerType": "schedule"})
        assert "needs 'cron' or 'intervalSeconds'" in neither[0][3]

    def test_policies_are_checked(self) -> None:
        found = problems(
            {"triggerType": "schedule", "intervalSeconds": 5, "missedPolicy": "catch_up"}
        )
        assert [(c, n, f) for c, n, f, _ in found] == [
            ("invalid_config", "when", "config.missedPolicy")
        ]


class TestEvent:
    def test_filter_compiles_and_reads_event(self) -> None:
        config = {"triggerType": "event", "topic": "orders", "filter": "event.data.total > 10"}
        assert problems(config) == []

    @pytest.mark.parametrize(
        ("flt", "says"),
        [
            ("event.data.total >", "does not parse"),
            ("trigger.x == 1", "unknown name(s) trigger"),
            ("{{trigger.x}} == 1", "templates are not available"),
        ],
    )
    def test_bad_filter_names_the_node(self, flt: str, says: str) -> None:
        [(code, node, field, message)] = problems(
            {"triggerType": "event", "topic": "orders", "filter": flt}
        )
        assert (code, node, field) == ("invalid_config", "when", "config.filter")
        assert says in message

    def test_dead_letter_topic_default_and_override(self) -> None:
        config = TriggerConfig.model_validate({"triggerType": "event", "topic": "orders"})
        assert config.resolved_dead_letter_topic == "orders.deadletter"
        config = TriggerConfig.model_validate(
            {"triggerType": "event", "topic": "orders", "deadLetterTopic": "bad-orders"}
        )
        assert config.resolved_dead_letter_topic == "bad-orders"

    def test_event_needs_a_topic(self) -> None:
        [(code, node, _, _)] = problems({"triggerType": "event"})
        assert (code, node) == ("invalid_config", "when")


class TestWebhook:
    def test_tolerance_default_and_range(self) -> None:
        config = TriggerConfig.model_validate({"triggerType": "webhook"})
        assert config.webhook_options.tolerance_seconds == 300
        [(code, node, field, _)] = problems(
            {"triggerType": "webhook", "webhook": {"toleranceSeconds": 0}}
        )
        assert (code, node, field) == ("invalid_config", "when", "config.webhook.toleranceSeconds")

    def test_unknown_auth_mode(self) -> None:
        [(_, node, field, _)] = problems({"triggerType": "webhook", "webhook": {"auth": "basic"}})
        assert (node, field) == ("when", "config.webhook.auth")
