"""Replay each Dockerfile's Python build steps without Docker, and run the result.

There is no Docker engine here, so the build stage's COPY/ENV/WORKDIR/RUN `uv sync` steps
are replayed in a temporary directory (paths under / mapped into it). That shows, with
the real uv and the committed uv.lock:
- the dependency layer installs no workspace code, and the final environment holds exactly
  the locked, non-dev dependencies of the service's package (nothing of other services,
  the CLI, the sidecar or the dev tools);
- the console script in ENTRYPOINT starts the service with the runtime stage's
  environment, and the HEALTHCHECK command succeeds against it (and fails when the
  service is not there);
- running it writes nothing into the environment (compiled bytecode, no .pyc at run
  time), which is what a read-only root filesystem needs.
The UI stage of the BFF image (npm) is not replayed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from service_kit.testing import free_port

pytestmark = pytest.mark.integration

# `uv run` exports its own path as UV; a machine where uv was installed with pip --user may
# not have it on PATH.
UV = os.environ.get("UV") or shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")

IGNORED = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "tests", "node_modules", ".data")


def map_path(root: Path, path: str, workdir: Path) -> Path:
    return root / path.lstrip("/") if path.startswith("/") else workdir / path


def replay_build(dockerfile: Any, repo: Path, root: Path) -> dict[str, Any]:
    """Run the build stage; returns the environment and what each `uv sync` left."""
    stage = dockerfile.stage("build")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_PROJECT", "VIRTUAL_ENV"))}
    workdir = root
    layers = []
    for instruction, args in stage.instructions:
        if instruction == "WORKDIR":
            workdir = map_path(root, args, workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = str(map_path(root, value, workdir)) if value.startswith("/") else value
        elif instruction == "COPY":
            tokens = shlex.split(args)
            if tokens[0].startswith("--from"):
                continue  # the uv binary: the machine's uv is used
            *sources, dest = tokens
            target = map_path(root, dest, workdir)
            for source in sources:
                origin = repo / source
                if origin.is_dir():  # a directory's contents go into the destination
                    shutil.copytree(origin, target, ignore=IGNORED, dirs_exist_ok=True)
                elif dest.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target)
        elif instruction == "RUN":
            tokens = shlex.split(args)
            command = [UV, *tokens[tokens.index("uv") + 1 :]]
            result = subprocess.run(
                command,
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr[-3000:]}"
            layers.append(installed(Path(env["UV_PROJECT_ENVIRONMENT"])))
    return {"env": env, "layers": layers, "venv": Path(env["UV_PROJECT_ENVIRONMENT"])}


def installed(venv: Path) -> set[str]:
    result = subprocess.run(
        [UV, "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {normalize(p["name"]) for p in json.loads(result.stdout)}


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def locked_dependencies(repo: Path, package: str) -> set[str]:
    """The non-dev dependencies uv.lock pins for `package` on this platform."""
    result = subprocess.run(
        [
            UV,
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--package",
            package,
            "--no-header",
            "--no-annotate",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", "./")):
            path = line.removeprefix("-e ").strip()
            names.add(normalize(_project_name(repo / path)))
            continue
        requirement = Requirement(line)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate():
            names.add(normalize(requirement.name))
    return names


def _project_name(path: Path) -> str:
    return str(tomllib.loads((path / "pyproject.toml").read_text())["project"]["name"])


def snapshot(venv: Path) -> dict[str, float]:
    return {
        str(p): p.stat().st_mtime
        for p in venv.rglob("*")
        if p.is_file() or (p.is_symlink() and p.exists())
    }


@pytest.mark.parametrize(
    "directory", ["orchestrator", "function-runner", "admin-api", "builder-bff"]
)
def test_image_environment_holds_exactly_the_service_and_runs_it(
    directory: str, dockerfiles: dict[str, Any], services: list[Any], repo: Path, tmp_path: Path
) -> None:
    spec = next(s for s in services if s.directory == directory)
    dockerfile = dockerfiles[directory]
    build = replay_build(dockerfile, repo, tmp_path / "root")
    dependency_layer, final_layer = build["layers"]
    workspace = {
        "orchestrator",
        "function-runner",
        "admin-api",
        "builder-bff",
        "service-kit",
        "workflow-core",
        "wfb-sidecar",
        "wfb-cli",
    }
    assert not dependency_layer & workspace, "the dependency layer must not contain workspace code"

    expected = locked_dependencies(repo, spec.package)
    assert final_layer == expected, (
        f"missing {sorted(expected - final_layer)}, unexpected {sorted(final_layer - expected)}"
    )
    for other in workspace - expected:
        assert other not in final_layer
    assert not {"pytest", "ruff", "mypy", "hypothesis"} & final_layer

    venv: Path = build["venv"]
    script = venv / "bin" / spec.script
    assert script.exists(), f"console script {spec.script} missing"
    assert json.loads(dockerfile.final.all("ENTRYPOINT")[0]) == [spec.script]

    runtime = dockerfile.final.env()
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **{k: v for k, v in runtime.items() if k != "PATH"},
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "WFB_DATA_DIR": str(data_dir),
        "APP_PORT": str(port),
        f"{spec.env_prefix}HOST": "127.0.0.1",
        "WFB_REQUIRE_SIDECAR": "false",
        # no Dapr sidecar here: the orchestrator's workflow worker stays off
        "ORCHESTRATOR_START_WORKFLOW_RUNTIME": "false",
    }
    for key in [k for k in env if k.endswith("_UI_DIR")]:  # the npm stage is not replayed
        ui = tmp_path / "ui-dist"
        ui.mkdir()
        (ui / "index.html").write_text("<!doctype html><title>builder</title>")
        env[key] = str(ui)
    healthcheck = json.loads(dockerfile.final.all("HEALTHCHECK")[0].split("CMD", 1)[1])
    healthcheck[0] = str(venv / "bin" / healthcheck[0])

    def probe() -> int:
        return subprocess.run(
            healthcheck, env=env, capture_output=True, timeout=10, check=False
        ).returncode

    assert probe() != 0, "the health check passes with nothing listening"
    before = snapshot(venv)
    process = subprocess.Popen(
        [str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while probe() != 0:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "service did not become healthy"
            time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)
    changed = {p for p, m in snapshot(venv).items() if before.get(p) != m}
    assert not changed, f"running the service wrote into its environment: {sorted(changed)[:5]}"
