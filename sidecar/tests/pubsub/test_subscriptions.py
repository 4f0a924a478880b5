"""Programmatic subscriptions and routing rules (unit)."""

from __future__ import annotations

import pytest

from wfb_sidecar.pubsub.subscriptions import SubscriptionError, compile_rule, parse_programmatic

pytestmark = pytest.mark.unit


def test_v1_and_v2_formats() -> None:
    subs, problems = parse_programmatic(
        "app",
        [
            {
                "pubsubname": "p",
                "topic": "a",
                "route": "a-route",
                "metadata": {"rawPayload": "true"},
            },
            {
                "pubsubname": "p",
                "topic": "b",
                "routes": {
                    "rules": [{"match": "event.data.n > 1", "path": "/big"}],
                    "default": "/b",
                },
                "deadLetterTopic": "dlq",
            },
        ],
    )
    assert problems == []
    a, b = subs
    assert (a.default_path, a.raw, a.rules) == ("/a-route", True, [])
    assert b.route({"data": {"n": 2}}) == "/big"
    assert b.route({"data": {"n": 0}}) == "/b"
    assert b.dead_letter_topic == "dlq"
    assert b.describe()["rules"] == [
        {"match": "event.data.n > 1", "path": "/big"},
        {"match": "", "path": "/b"},
    ]


def test_a_rule_that_fails_at_runtime_does_not_match() -> None:
    subs, _ = parse_programmatic(
        "app",
        [
            {
                "pubsubname": "p",
                "topic": "t",
                "routes": {"rules": [{"match": "event.data.n > 1", "path": "/x"}]},
            }
        ],
    )
    assert subs[0].route({"data": "not a map"}) is None


def test_problems_are_reported_and_good_entries_kept() -> None:
    subs, problems = parse_programmatic(
        "app",
        [
            {"pubsubname": "p"},
            {"pubsubname": "p", "topic": "t"},
            {"pubsubname": "p", "topic": "u", "routes": {"rules": [{"match": "((", "path": "/x"}]}},
            {"pubsubname": "p", "topic": "ok", "route": "/ok", "bulkSubscribe": {"enabled": True}},
        ],
    )
    assert [s.topic for s in subs] == ["ok"]
    assert len(problems) == 4
    assert "bulkSubscribe" in problems[3]


def test_not_a_list() -> None:
    assert parse_programmatic("app", {"pubsubname": "p"}) == (
        [],
        ["/dapr/subscribe must return a JSON array"],
    )


def test_compile_errors() -> None:
    with pytest.raises(SubscriptionError, match="does not parse"):
        compile_rule("event.type ==", "/x")
    assert compile_rule("", "x").path == "/x"
