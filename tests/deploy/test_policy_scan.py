"""Policy scan of the rendered manifests with checkov (pinned in tools/requirements.txt).

Run offline, checkov reports no severities, so every failed check counts: each must be
fixed or listed in deploy/checkov/skips.yaml with its reason. An entry that no longer
matches any finding fails too, so the list cannot rot into blanket exemptions.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

# renders the overlays with kustomize and runs the pinned tools: processes, not in-process
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def skips(repo: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(
        (repo / "deploy/checkov/skips.yaml").read_text()
    )["skips"]
    return entries


@pytest.fixture(scope="module")
def findings(
    rendered_files: dict[str, Path], tool_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, str, str]]:
    """(rendering, check id, resource) of every failed check. A deliberately insecure pod is
    scanned in the same run (as rendering "canary") to show the scan is not a no-op."""
    canary = tmp_path_factory.mktemp("canary") / "canary.yaml"
    canary.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "bad", "namespace": "x"},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "nginx", "securityContext": {"privileged": True}}
                    ]
                },
            }
        )
    )
    files = {**rendered_files, "canary": canary}
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    args = [
        str(tool_bin / "checkov"),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--compact",
        "-o",
        "json",
    ]
    for path in files.values():
        args += ["-f", str(path)]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=tmp_path_factory.mktemp("checkov"),
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    by_file = {str(path): name for name, path in files.items()}
    scanned = set()
    failed = []
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0
        for check in report["results"]["passed_checks"] + report["results"]["failed_checks"]:
            scanned.add(_rendering(check["file_abs_path"], by_file))
        for check in report["results"]["failed_checks"]:
            failed.append(
                (_rendering(check["file_abs_path"], by_file), check["check_id"], check["resource"])
            )
    assert scanned == set(files), "checkov did not scan every rendering"
    return failed


def _rendering(path: str, by_file: dict[str, str]) -> str:
    for file, name in by_file.items():
        if path.endswith(file) or file.endswith(path):
            return name
    raise AssertionError(f"checkov reported an unknown file {path}")


def _matches(entry: dict[str, Any], rendering: str, check: str, resource: str) -> bool:
    return (
        entry["check"] == check
        and any(fnmatch.fnmatchcase(rendering, p) for p in entry["overlays"])
        and any(fnmatch.fnmatchcase(resource, p) for p in entry["resources"])
    )


def test_every_skip_has_a_reason(skips: list[dict[str, Any]]) -> None:
    for entry in skips:
        assert entry["check"].startswith(("CKV_K8S_", "CKV2_K8S_"))
        assert len(entry["reason"].split()) >= 15, f"{entry['check']}: explain why it is accepted"
        assert entry["overlays"] and entry["resources"]


def test_no_unexplained_findings(
    findings: list[tuple[str, str, str]], skips: list[dict[str, Any]]
) -> None:
    scanned = [f for f in findings if f[0] != "canary"]
    unexplained = [f for f in scanned if not any(_matches(e, *f) for e in skips)]
    assert not unexplained, (
        "checkov findings without a reason in deploy/checkov/skips.yaml:\n"
        + "\n".join(f"  {r}: {c} {res}" for r, c, res in unexplained)
    )


def test_no_stale_skips(findings: list[tuple[str, str, str]], skips: list[dict[str, Any]]) -> None:
    scanned = [f for f in findings if f[0] != "canary"]
    stale = [e["check"] for e in skips if not any(_matches(e, *f) for f in scanned)]
    assert not stale, f"skips that match no finding any more (remove them): {stale}"


def test_the_scan_finds_real_problems(findings: list[tuple[str, str, str]]) -> None:
    """checkov, as run here, flags the insecure canary pod."""
    flagged = {check for rendering, check, _ in findings if rendering == "canary"}
    assert {"CKV_K8S_16", "CKV_K8S_28", "CKV_K8S_22"} <= flagged  # privileged, caps, read-only FS
