"""``wfb run`` and ``wfb approve`` against a loopback fake orchestrator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wfb_cli.main import app
from wfb_cli.remote import describe, parse_sse

from .fake_orchestrator import Orchestrator, event, serve

pytestmark = pytest.mark.unit
runner = CliRunner()

SCRIPT = [
    event(1, "run.started"),
    event(2, "node.started", "hash", label="Hash It"),
    event(3, "node.completed", "hash", label="Hash It", output={"hash": "ab12"}),
    event(4, "approval.requested", "gate", label="Approve", message="ok?"),
    event(5, "approval.answered", "gate", outcome="approved", reason="fine"),
    event(6, "node.completed", "gate", label="Approve", route="approved"),
    event(7, "run.completed", phase="completed"),
]


def definition() -> dict[str, Any]:
    return {
        "id": "greeter",
        "name": "Greeter",
        "nodes": [
            {
                "id": "trigger",
                "type": "trigger",
                "config": {
                    "triggerType": "manual",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
            },
            {
                "id": "hash",
                "type": "action",
                "label": "Hash It",
                "config": {"actionId": "system/hash", "data": "{{trigger.name}}"},
            },
        ],
        "edges": [{"id": "e", "source": "trigger", "target": "hash"}],
    }


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(definition()))
    return path


@pytest.fixture
def fake() -> Iterator[Orchestrator]:
    with serve(Orchestrator(script=list(SCRIPT))) as running:
        yield running


def run(fake: Orchestrator, *args: str, env: dict[str, str] | None = None) -> Any:
    base = {"WFB_URL": fake.url, "WFB_TOKEN": "wfb_key"}
    return runner.invoke(app, ["run", *args], env={**base, **(env or {})})


class TestRun:
    def test_starts_follows_and_exits_0_on_completion(self, fake: Orchestrator, flow: Path) -> None:
        result = run(fake, str(flow), "--input", '{"name": "Ada"}')
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert [line.split()[1] for line in lines[:-1]] == [e["type"] for e in SCRIPT]
        assert "hash (Hash It)" in lines[1]
        assert "wfb approve run-1 gate" in lines[3]
        assert "route=approved" in lines[5]
        assert lines[-1] == "run run-1: COMPLETED"
        body, headers = fake.starts[0]
        assert body["triggerData"] == {"name": "Ada"}
        assert body["definition"]["id"] == "greeter"
        assert body["labels"] == {"trigger": "manual"}
        assert headers["Authorization"] == "Bearer wfb_key"
        assert headers["Idempotency-Key"].startswith("wfb-cli-")
        assert fake.stream_requests == [None]

    def test_json_lines(self, fake: Orchestrator, flow: Path) -> None:
        result = run(fake, str(flow), "--input", '{"name": "Ada"}', "--json")
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows[:-1] == SCRIPT
        assert rows[-1]["runtimeStatus"] == "COMPLETED"

    def test_input_file_and_project(self, fake: Orchestrator, flow: Path, tmp_path: Path) -> None:
        data = tmp_path / "in.yaml"
        data.write_text("name: Grace\n")
        result = run(fake, str(flow), "--input-file", str(data), "--project", "p1")
        assert result.exit_code == 0, result.output
        body, _ = fake.starts[0]
        assert body["triggerData"] == {"name": "Grace"}
        assert body["labels"] == {"trigger": "manual", "projectId": "p1"}

    def test_a_dropped_stream_resumes_after_the_last_event_without_repeats(
        self, fake: Orchestrator, flow: Path
    ) -> None:
        fake.drops = [3, 2]  # torn mid-chunk after 3 events, then after 2 more
        result = run(fake, str(flow), "--input", '{"name": "Ada"}', "--json")
        assert result.exit_code == 0, result.output
        seqs = [json.loads(line).get("seq") for line in result.stdout.splitlines()[:-1]]
        assert seqs == [1, 2, 3, 4, 5, 6, 7]
        assert fake.stream_requests == [None, "3", "5"]

    def test_a_stream_closed_early_is_reopened(self, fake: Orchestrator, flow: Path) -> None:
        fake.drops = [-1]
        result = run(fake, str(flow), "--input", '{"name": "Ada"}')
        assert result.exit_code == 0, result.output
        assert fake.stream_requests == [None, None]

    @pytest.mark.parametrize(
        "final",
        [
            {"runtimeStatus": "FAILED", "phase": "failed", "error": "hash: boom"},
            {"runtimeStatus": "TERMINATED", "phase": "cancelled"},
            {"runtimeStatus": "COMPLETED", "phase": "rejected", "message": "Approve: rejected"},
        ],
    )
    def test_failed_terminated_or_rejected_exit_1(
        self, fake: Orchestrator, flow: Path, final: dict[str, Any]
    ) -> None:
        fake.final = final
        result = run(fake, str(flow), "--input", '{"name": "Ada"}')
        assert result.exit_code == 1, result.output
        last = result.stdout.splitlines()[-1]
        assert last.startswith(f"run run-1: {final['runtimeStatus']}")
        assert (final.get("error") or final.get("message") or "") in last

    def test_an_invalid_definition_is_2_and_nothing_starts(
        self, fake: Orchestrator, tmp_path: Path
    ) -> None:
        bad = definition()
        bad["edges"].append({"id": "x", "source": "hash", "target": "ghost"})
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        result = run(fake, str(path), "--input", '{"name": "Ada"}')
        assert result.exit_code == 2
        assert "ghost" in result.stderr
        assert fake.starts == []

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--input", "{nope"], "--input is not JSON"),
            (["--input", '{"name": 5}'], "5 is not of type 'string'"),
            (["--input", "{}"], "'name' is a required property"),
        ],
    )
    def test_bad_input_is_2_before_the_platform_is_asked(
        self, fake: Orchestrator, flow: Path, args: list[str], message: str
    ) -> None:
        result = run(fake, str(flow), *args)
        assert result.exit_code == 2
        assert message in result.stderr
        assert fake.starts == []

    def test_input_and_input_file_together_is_2(
        self, fake: Orchestrator, flow: Path, tmp_path: Path
    ) -> None:
        data = tmp_path / "in.json"
        data.write_text("{}")
        result = run(fake, str(flow), "--input", "{}", "--input-file", str(data))
        assert result.exit_code == 2 and "not both" in result.stderr

    def test_missing_credentials_is_2_with_a_hint(self, fake: Orchestrator, flow: Path) -> None:
        result = run(fake, str(flow), "--input", '{"name": "A"}', env={"WFB_TOKEN": ""})
        assert result.exit_code == 2
        assert "WFB_TOKEN" in result.stderr

    def test_the_platforms_validation_errors_are_2_with_fields(
        self, fake: Orchestrator, flow: Path
    ) -> None:
        fake.start_answer = (
            422,
            {
                "title": "Unprocessable",
                "status": 422,
                "detail": "the definition is invalid",
                "errors": [{"nodeId": "hash", "message": "unknown function"}],
            },
        )
        result = run(fake, str(flow), "--input", '{"name": "A"}')
        assert result.exit_code == 2
        assert "the definition is invalid" in result.stderr
        assert "hash: unknown function" in result.stderr

    def test_an_unreachable_platform_is_3(self, flow: Path) -> None:
        with serve(Orchestrator()) as gone:
            url = gone.url
        result = runner.invoke(
            app, ["run", str(flow), "--input", '{"name": "A"}', "--url", url, "--token", "k"]
        )
        assert result.exit_code == 3
        assert "cannot reach the platform" in result.stderr

    def test_wait_timeout_is_124_and_names_the_run(self, fake: Orchestrator, flow: Path) -> None:
        fake.script = SCRIPT[:4]
        fake.endless = True
        result = run(fake, str(flow), "--input", '{"name": "A"}', "--wait-timeout", "1")
        assert result.exit_code == 124, result.output
        assert "run-1 is still going" in result.stderr
        assert len(result.stdout.splitlines()) == 4


class TestApprove:
    def answer(self, fake: Orchestrator, *args: str) -> Any:
        return runner.invoke(
            app, ["approve", *args], env={"WFB_URL": fake.url, "WFB_TOKEN": "wfb_key"}
        )

    def waiting(self, fake: Orchestrator) -> None:
        from .fake_orchestrator import FakeRun

        fake.runs["run-1"] = FakeRun([], {}, waiting_gate="gate")

    def test_approve(self, fake: Orchestrator) -> None:
        self.waiting(fake)
        result = self.answer(fake, "run-1", "gate")
        assert result.exit_code == 0, result.output
        assert fake.answers == [("run-1", "gate", {"approved": True})]
        assert "approved gate of run run-1" in result.stdout

    def test_reject_with_a_reason(self, fake: Orchestrator) -> None:
        self.waiting(fake)
        result = self.answer(fake, "run-1", "gate", "--reject", "--reason", "too pricey")
        assert result.exit_code == 0, result.output
        assert fake.answers == [("run-1", "gate", {"approved": False, "reason": "too pricey"})]

    def test_a_gate_not_waiting_is_1(self, fake: Orchestrator) -> None:
        self.waiting(fake)
        result = self.answer(fake, "run-1", "other")
        assert result.exit_code == 1
        assert "not waiting" in result.stderr

    def test_an_unknown_run_is_2(self, fake: Orchestrator) -> None:
        result = self.answer(fake, "nope", "gate")
        assert result.exit_code == 2
        assert "run nope not found" in result.stderr


class TestFormat:
    def test_sse_parsing(self) -> None:
        text = "retry: 1\n\n: comment\nid: 7\r\nevent: x\ndata: a\ndata: b\n\ndata: c\n\n"
        events = list(parse_sse(iter(text.splitlines(keepends=True))))
        assert [(e.id, e.event, e.data) for e in events] == [
            ("7", "x", "a\nb"),
            (None, "message", "c"),
        ]

    def test_failures_show_their_error(self) -> None:
        line = describe(event(3, "node.failed", "hash", label="Hash It", error="HTTP 500"))
        assert line.split() == [
            "00:00:03.000",
            "node.failed",
            "hash",
            "(Hash",
            "It)",
            "HTTP",
            "500",
        ]
