"""Pure pieces of the triggers domain: schedule math across time zones and DST, query
coercion, delivered job bodies, signatures, sealed secrets, CloudEvent parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from admin_api.triggers.events import from_parts
from admin_api.triggers.jobs import delivered_data, job_name
from admin_api.triggers.schedule import count_between, iso, next_occurrence, parse_iso
from admin_api.triggers.secrets import SecretBox
from admin_api.triggers.webhooks import merge_query, signature_of, verify_hmac
from service_kit.problems import ServiceUnavailable, Unauthorized
from workflow_core.nodes import TriggerConfig

pytestmark = pytest.mark.unit


def schedule(**config: object) -> TriggerConfig:
    return TriggerConfig.model_validate({"triggerType": "schedule", **config})


class TestSchedule:
    def test_cron_in_a_time_zone_across_daylight_saving(self) -> None:
        config = schedule(cron="30 2 * * *", timezone="Europe/Berlin")
        before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
        first = next_occurrence(config, before, before)
        assert iso(first) == "2026-03-29T01:00:00Z"  # 02:30 does not exist that night
        second = next_occurrence(config, first, before)
        assert iso(second) == "2026-03-30T00:30:00Z"  # 02:30 CEST

    def test_interval_counts_from_its_anchor(self) -> None:
        anchor = datetime(2026, 1, 1, tzinfo=UTC)
        config = schedule(intervalSeconds=90)
        after = datetime(2026, 1, 1, 0, 4, tzinfo=UTC)
        assert iso(next_occurrence(config, after, anchor)) == "2026-01-01T00:04:30Z"
        exact = datetime(2026, 1, 1, 0, 4, 30, tzinfo=UTC)
        assert iso(next_occurrence(config, exact, anchor)) == "2026-01-01T00:06:00Z"
        assert iso(next_occurrence(config, anchor.replace(year=2025), anchor)) == iso(anchor)

    def test_missed_occurrences_are_counted(self) -> None:
        anchor = datetime(2026, 1, 1, tzinfo=UTC)
        config = schedule(intervalSeconds=60)
        until = datetime(2026, 1, 1, 0, 10, 30, tzinfo=UTC)
        assert count_between(config, anchor, until, anchor) == 11

    def test_iso_round_trip_keeps_sub_seconds(self) -> None:
        moment = datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)
        assert parse_iso(iso(moment)) == moment
        assert iso(moment.replace(microsecond=0)) == "2026-01-01T00:00:00Z"

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            iso(datetime(2026, 1, 1))


class TestJobs:
    def test_job_names(self) -> None:
        assert job_name("w1", "when") == "wfb-trigger-w1-when"

    @pytest.mark.parametrize(
        "body",
        [
            {"workflowId": "w", "triggerId": "t", "generation": 1, "occurrence": "x"},
            {"data": {"workflowId": "w", "triggerId": "t", "generation": 1, "occurrence": "x"}},
            {
                "data": {
                    "@type": "type.googleapis.com/google.protobuf.Value",
                    "value": {"workflowId": "w", "triggerId": "t", "generation": 1},
                }
            },
        ],
    )
    def test_delivered_bodies(self, body: dict[str, object]) -> None:
        found = delivered_data(body)
        assert found is not None and found["workflowId"] == "w"

    @pytest.mark.parametrize("body", [None, [], "x", {"data": "x"}, {"other": 1}])
    def test_other_bodies(self, body: object) -> None:
        assert delivered_data(body) is None


class TestWebhookPieces:
    def test_query_merge_and_coercion(self) -> None:
        schema = {
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "x": {"type": "number"},
                "ok": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "integer"}},
            },
        }
        query = [("n", "3"), ("x", "2.5"), ("ok", "TRUE"), ("tags", "1"), ("keep", "b")]
        query += [("keep", "c"), ("body", "ignored")]
        merged = merge_query({"body": 1}, query, schema)
        assert merged == {
            "body": 1,
            "n": 3,
            "x": 2.5,
            "ok": True,
            "tags": [1],
            "keep": ["b", "c"],
        }
        assert merge_query({}, [("n", "three")], schema) == {"n": "three"}

    def test_signature_window_and_format(self) -> None:
        body = b'{"a":1}'
        good = "sha256=" + signature_of("s", "1000", body)
        assert verify_hmac("s", "1000", good, body, 300, now=1200) == good[7:]
        with pytest.raises(Unauthorized, match="window"):
            verify_hmac("s", "1000", good, body, 300, now=1301)
        with pytest.raises(Unauthorized, match="unix seconds"):
            verify_hmac("s", "-5", good, body, 300, now=1000)
        with pytest.raises(Unauthorized, match="does not match"):
            verify_hmac("s", "1000", good, body + b" ", 300, now=1000)


class TestSecretBox:
    def test_sealed_secrets_open_only_for_their_workflow(self) -> None:
        box = SecretBox(b"k" * 32)
        nonce, sealed = box.seal("wf-1", "whsec_abc")
        assert b"whsec_abc" not in sealed
        assert box.open("wf-1", nonce, sealed) == "whsec_abc"
        with pytest.raises(ServiceUnavailable):
            box.open("wf-2", nonce, sealed)
        with pytest.raises(ServiceUnavailable):
            SecretBox(b"j" * 32).open("wf-1", nonce, sealed)

    def test_an_unconfigured_box_says_what_to_set(self) -> None:
        box = SecretBox(None, "set ADMIN_API_TRIGGER_SECRET_KEY")
        with pytest.raises(ServiceUnavailable, match="TRIGGER_SECRET_KEY"):
            box.seal("wf", "x")


class TestCloudEvents:
    def test_a_json_event(self) -> None:
        attrs = {"id": "1", "source": "s", "type": "t", "specversion": "1.0", "subject": "x"}
        incoming = from_parts("pubsub", "orders", attrs, b'{"a": 1}', "application/json")
        assert incoming.malformed is None and incoming.event is not None
        assert incoming.event["data"] == {"a": 1}
        assert incoming.event["subject"] == "x" and incoming.event["topic"] == "orders"

    def test_not_a_cloud_event(self) -> None:
        incoming = from_parts("pubsub", "orders", {"id": "1"}, b"{}", "application/json")
        assert incoming.malformed is not None and "missing source" in incoming.malformed
