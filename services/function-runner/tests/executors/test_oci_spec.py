"""Names, labels, resources and status reading of OCI runs (pure functions)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from function_runner.builtins.base import FunctionError
from function_runner.executors.oci_spec import (
    env_name,
    job_name,
    label_value,
    merge_resources,
    parse_quantity,
)
from function_runner.executors.oci_status import assess, last_json_line, log_tail

pytestmark = pytest.mark.unit

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DEFAULTS = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


class TestJobName:
    def test_deterministic_and_distinct(self) -> None:
        assert job_name("e1", "n1", 1) == job_name("e1", "n1", 1)
        names = {
            job_name("e1", "n1", 1),
            job_name("e1", "n1", 2),
            job_name("e2", "n1", 1),
            job_name("e1", "n2", 1),
        }
        assert len(names) == 4

    @pytest.mark.parametrize(
        "node_id",
        ["Fetch_Data", "x" * 200, "---", "ÜNICODE nöde", "a.b.c", "UPPER-case-ID-123"],
    )
    def test_dns_1123_and_at_most_63_chars(self, node_id: str) -> None:
        name = job_name("0b6c8a1e-7d7e-4c4a-9a9f-3f1f0d6e2b11", node_id, 12)
        assert len(name) <= 63
        assert DNS_1123.match(name), name
        assert name.startswith("wfb-")
        assert "-a12-" in name

    def test_long_node_ids_that_share_a_prefix_stay_distinct(self) -> None:
        assert job_name("e", "x" * 100 + "a", 1) != job_name("e", "x" * 100 + "b", 1)


class TestLabelsAndEnv:
    @pytest.mark.parametrize("value", ["exec-1", "a/b", "x" * 100, "-lead", "white space"])
    def test_label_values_are_valid(self, value: str) -> None:
        label = label_value(value)
        assert len(label) <= 63
        assert re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", label)

    def test_long_label_values_keep_a_hash(self) -> None:
        assert label_value("x" * 100 + "a") != label_value("x" * 100 + "b")

    @pytest.mark.parametrize(
        ("key", "expected"),
        [("apiKey", "apiKey"), ("api-key", "api_key"), ("1st", "_1st"), ("a.b", "a_b")],
    )
    def test_env_names(self, key: str, expected: str) -> None:
        assert env_name(key) == expected


class TestResources:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("500m", Decimal("0.5")),
            ("2", Decimal(2)),
            ("256Mi", Decimal(256 * 1024**2)),
            ("1G", Decimal(10**9)),
            ("1.5", Decimal("1.5")),
        ],
    )
    def test_parse_quantity(self, text: str, value: Decimal) -> None:
        assert parse_quantity(text) == value

    @pytest.mark.parametrize("text", ["", "abc", "-1", "1Zi"])
    def test_bad_quantities(self, text: str) -> None:
        with pytest.raises(ValueError, match="quantity"):
            parse_quantity(text)

    def test_defaults(self) -> None:
        assert merge_resources(None, DEFAULTS) == DEFAULTS

    def test_declared_values_win_per_resource(self) -> None:
        merged = merge_resources(
            {"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}}, DEFAULTS
        )
        assert merged == {
            "requests": {"cpu": "250m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }

    def test_a_request_above_the_default_limit_raises_the_limit(self) -> None:
        merged = merge_resources({"requests": {"memory": "2Gi"}}, DEFAULTS)
        assert merged["limits"]["memory"] == "2Gi"

    def test_a_declared_limit_below_its_request_is_refused(self) -> None:
        with pytest.raises(FunctionError, match="above its limit"):
            merge_resources({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}, DEFAULTS)

    @pytest.mark.parametrize("bad", [{"cpu": "1"}, {"requests": "1"}, {"limits": {"cpu": "lots"}}])
    def test_malformed(self, bad: dict[str, Any]) -> None:
        with pytest.raises(FunctionError) as err:
            merge_resources(bad, DEFAULTS)
        assert err.value.code == "validation"


class TestOutput:
    def test_last_json_line(self) -> None:
        assert last_json_line('{"a": 1}\n{"b": 2}\ntrailing text\n\n') == (True, {"b": 2})
        assert last_json_line("[1, 2]\n") == (True, [1, 2])
        assert last_json_line("no json here\n{broken\n") == (False, None)
        assert last_json_line("") == (False, None)

    def test_log_tail(self) -> None:
        text = "".join(f"{i}\n" for i in range(100))
        assert log_tail(text, lines=3) == "97\n98\n99"
        assert len(log_tail("x" * 10_000, max_chars=100)) == 100


class TestAssess:
    def test_nothing_yet_is_running(self) -> None:
        assert assess(None, []).state == "running"

    def test_a_completed_job(self) -> None:
        job = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
        pod = {"metadata": {"name": "p1"}, "status": {"phase": "Succeeded"}}
        verdict = assess(job, [pod])
        assert (verdict.state, verdict.pod_name) == ("succeeded", "p1")

    def test_a_false_condition_is_ignored(self) -> None:
        job = {"status": {"conditions": [{"type": "Failed", "status": "False"}]}}
        assert assess(job, []).state == "running"

    def test_deadline_beats_the_killed_containers_exit_code(self) -> None:
        job = {
            "spec": {"activeDeadlineSeconds": 5},
            "status": {
                "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]
            },
        }
        pod = {
            "metadata": {"name": "p1"},
            "status": {
                "phase": "Failed",
                "containerStatuses": [
                    {"name": "function", "state": {"terminated": {"exitCode": 143}}}
                ],
            },
        }
        verdict = assess(job, [pod])
        assert (verdict.state, verdict.code) == ("failed", "timeout")
