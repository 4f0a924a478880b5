from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from wfb_cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()
pytestmark = pytest.mark.unit


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


class TestValidate:
    def test_every_example_passes(self) -> None:
        files = sorted(str(p) for p in EXAMPLES.iterdir())
        result = runner.invoke(app, ["validate", *files])
        assert result.exit_code == 0, result.output
        assert result.output.count(": ok") == len(files)

    def test_broken_copies_report_each_planted_error_by_node(self, tmp_path: Path) -> None:
        routing = load("order-routing.json")
        routing["nodes"][2]["config"]["title"] = "Review {{Nobody.id}}"  # ticket
        routing["edges"].append({"id": "back", "source": "record", "target": "check"})
        saga = load("trip-booking-saga.json")
        del saga["nodes"][2]["config"]["actionId"]  # hotel
        approval = load("content-approval.json")
        approval["edges"][2]["sourceHandle"] = "maybe"  # approval -> publish
        files = [
            write(tmp_path / "routing.json", routing),
            write(tmp_path / "saga.json", saga),
            write(tmp_path / "approval.json", approval),
        ]
        result = runner.invoke(app, ["validate", "--json", *map(str, files)])
        assert result.exit_code == 1
        report = json.loads(result.stdout)
        found = {
            (Path(f).name, i["code"], i.get("nodeId"))
            for f, issues in report.items()
            for i in issues
        }
        assert ("routing.json", "unknown_reference", "ticket") in found
        assert ("routing.json", "cycle", "check") in found
        assert ("saga.json", "invalid_config", "hotel") in found
        assert ("approval.json", "invalid_handle", "approval") in found

    def test_text_output_names_node_and_field(self, tmp_path: Path) -> None:
        doc = load("linear-http-chain.json")
        doc["nodes"][3]["config"]["message"] = "{{Missing.data}}"
        result = runner.invoke(app, ["validate", str(write(tmp_path / "x.json", doc))])
        assert result.exit_code == 1
        assert (
            "node log [config.message]" in result.output
            and "unknown node 'Missing'" in result.output
        )

    def test_unreadable_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        result = runner.invoke(app, ["validate", str(bad)])
        assert result.exit_code == 1 and "invalid JSON" in result.output

    def test_catalog_enables_type_checks(self, tmp_path: Path) -> None:
        catalog = [
            {
                "slug": "system/log",
                "inputSchema": {"type": "object", "required": ["message", "level"]},
            }
        ]
        functions = write(tmp_path / "functions.json", catalog)
        doc = load("linear-http-chain.json")
        del doc["nodes"][3]["config"]["level"]
        result = runner.invoke(
            app, ["validate", "--functions", str(functions), str(write(tmp_path / "x.json", doc))]
        )
        assert result.exit_code == 1 and "missing_input" in result.output

    def test_strict_fails_on_warnings(self, tmp_path: Path) -> None:
        doc = load("linear-http-chain.json")
        doc["nodes"].append({"id": "loose", "type": "action", "config": {"actionId": "system/log"}})
        path = str(write(tmp_path / "x.json", doc))
        assert runner.invoke(app, ["validate", path]).exit_code == 0
        assert runner.invoke(app, ["validate", "--strict", path]).exit_code == 1


class TestInspectAndConvert:
    def test_inspect_shows_parallel_groups_and_upstream(self) -> None:
        result = runner.invoke(app, ["inspect", str(EXAMPLES / "diamond-fan-out.json")])
        assert result.exit_code == 0
        assert (
            "level 1: Billing (stripe), Account (clerk), SupportTickets (issues)" in result.output
        )
        assert "Profile (merge) (action): clerk, issues, stripe, trigger" in result.output

    def test_inspect_reports_a_cycle(self, tmp_path: Path) -> None:
        doc = load("order-routing.json")
        doc["edges"].append({"id": "x", "source": "record", "target": "check"})
        result = runner.invoke(app, ["inspect", str(write(tmp_path / "c.json", doc))])
        assert result.exit_code == 1 and "cycle: check -> " in result.output

    def test_convert_round_trip(self, tmp_path: Path) -> None:
        src = EXAMPLES / "batch-enrich.json"
        out = tmp_path / "b.yaml"
        assert (
            runner.invoke(app, ["convert", str(src), "--to", "yaml", "-o", str(out)]).exit_code == 0
        )
        back = runner.invoke(app, ["convert", str(out), "--to", "json"])
        assert json.loads(back.stdout) == json.loads(src.read_text())
        assert yaml.safe_load(out.read_text())["id"] == "batch-enrich"

    def test_convert_rejects_unknown_format(self) -> None:
        result = runner.invoke(app, ["convert", str(EXAMPLES / "batch-enrich.json"), "--to", "xml"])
        assert result.exit_code == 2
