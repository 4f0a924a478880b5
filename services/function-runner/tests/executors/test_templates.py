"""The starter templates run locally: INPUT in, one JSON line out (Go only with ``go``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from function_runner.executors.oci_status import last_json_line

pytestmark = pytest.mark.integration

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
COMMANDS = {
    "python": [sys.executable, str(TEMPLATES / "python" / "handler.py")],
    "node": [shutil.which("node") or "node", str(TEMPLATES / "node" / "index.js")],
    "go": [shutil.which("go") or "go", "run", "."],
}
AVAILABLE = {
    "python": True,
    "node": shutil.which("node") is not None,
    "go": shutil.which("go") is not None,
}
LANGUAGES = [
    pytest.param(lang, marks=pytest.mark.skipif(not ok, reason=f"{lang} toolchain not installed"))
    for lang, ok in AVAILABLE.items()
]


def run(lang: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "GOPATH", "GOCACHE", "GOMODCACHE")
    }
    return subprocess.run(
        COMMANDS[lang],
        env={**base, "NODE_ID": "node-7", **env},
        cwd=TEMPLATES / lang,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reads_input_and_prints_one_json_line(lang: str) -> None:
    done = run(lang, INPUT=json.dumps({"value": 21, "text": "hello OCI world"}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().count("\n") == 0, "exactly one line on stdout"
    assert last_json_line(done.stdout) == (True, {"processed": 42, "words": 3, "nodeId": "node-7"})
    assert "processed input for node node-7" in done.stderr


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reads_a_large_input_from_input_file(lang: str, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps({"value": 2, "text": "word " * 30_000}))
    done = run(lang, INPUT_FILE=str(path))
    assert done.returncode == 0, done.stderr
    assert last_json_line(done.stdout)[1]["words"] == 30_000


@pytest.mark.parametrize("lang", LANGUAGES)
def test_bad_input_exits_non_zero(lang: str) -> None:
    done = run(lang, INPUT=json.dumps({"value": "not a number"}))
    assert done.returncode != 0
    assert "error" in done.stderr
    assert last_json_line(done.stdout) == (False, None)


@pytest.mark.parametrize("lang", ["python", "node", "go"])
def test_dockerfile_is_small_and_non_root(lang: str) -> None:
    dockerfile = (TEMPLATES / lang / "Dockerfile").read_text()
    final_stage = dockerfile.split("FROM ")[-1]
    assert (
        final_stage.startswith("gcr.io/distroless/") and ":nonroot" in final_stage.splitlines()[0]
    )
    assert "USER 65532:65532" in final_stage
