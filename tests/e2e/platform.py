"""The whole platform in embedded mode for end-to-end tests: ``wfb dev`` with a generated
run file (free ports, a throwaway data dir), stopped cleanly afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from service_kit.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
UI_DIST = ROOT / "ui" / "dist"


@dataclass
class Platform:
    base_url: str
    ports: dict[str, int]
    log_path: Path
    data_dir: Path

    def url(self, app_id: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[app_id]}{path}"

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


COMPONENTS = {
    "statestore.yaml": """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.sqlite
  version: v1
  metadata:
    - {name: connectionString, value: "state.db"}
    - {name: actorStateStore, value: "true"}
""",
    "pubsub.yaml": """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec: {type: pubsub.in-memory, version: v1, metadata: []}
""",
    "secrets.yaml": """apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: localsecrets}
spec: {type: secretstores.local.env, version: v1, metadata: []}
""",
}


def write_components(directory: Path) -> Path:
    """Server-less Dapr components, for a checkout that does not ship ``components/``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in COMPONENTS.items():
        (directory / name).write_text(text)
    return directory


def unique_port(taken: set[int]) -> int:
    """A free port not handed out before in this run file (the OS may repeat one)."""
    while (port := free_port()) in taken:
        pass
    taken.add(port)
    return port


def write_run_file(directory: Path) -> tuple[Path, dict[str, int]]:
    """A copy of the repository's dapr.yaml with free ports and absolute paths."""
    spec = yaml.safe_load((ROOT / "dapr.yaml").read_text())
    ports: dict[str, int] = {}
    taken: set[int] = set()
    common = spec.setdefault("common", {})
    resources = (ROOT / common.get("resourcesPath", "components")).resolve()
    if not resources.is_dir():
        resources = write_components(directory / "components")
        common.pop("configFilePath", None)
    common["resourcesPath"] = str(resources)
    for section in (common, *spec["apps"]):
        for key in ("configFilePath", "resourcesPath"):
            if section.get(key) and not Path(section[key]).is_absolute():
                section[key] = str((ROOT / section[key]).resolve())
    for app in spec["apps"]:
        app_id = app["appID"]
        app["appDirPath"] = str((ROOT / app.get("appDirPath", ".")).resolve())
        for key in ("appPort", "daprHTTPPort", "daprGRPCPort"):
            if key in app:
                app[key] = unique_port(taken)
        ports[app_id] = app["appPort"]
        env = app.setdefault("env", {})
        if app_id == "builder-bff":
            env.update({"BUILDER_BFF_UI_DIR": str(UI_DIST), "BUILDER_BFF_COOKIE_SECURE": "false"})
    for app in spec["apps"]:  # invitation links open the builder (the BFF serves the UI)
        if app["appID"] == "admin-api":
            app["env"].setdefault(
                "ADMIN_API_PUBLIC_URL", f"http://127.0.0.1:{ports['builder-bff']}"
            )
    path = directory / "dapr.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path, ports


def wait_ready(urls: list[str], proc: subprocess.Popen[bytes], timeout_s: float) -> list[str]:
    """The URLs still not answering 200 when ``timeout_s`` ran out (empty: all ready)."""
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    with httpx.Client(timeout=2) as client:
        while pending and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            for url in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        pending.remove(url)
            if pending:
                time.sleep(0.3)
    return pending


@contextlib.contextmanager
def running_platform(directory: Path, ready_timeout_s: float = 120) -> Iterator[Platform]:
    run_file, ports = write_run_file(directory)
    data_dir = directory / "data"
    log_path = directory / "platform.log"
    wfb = Path(sys.executable).parent / "wfb"
    env = {**os.environ, "WFB_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1"}
    env.pop("WFB_DATA_DIR", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(wfb),
                "dev",
                "--run-file",
                str(run_file),
                "--data-dir",
                str(data_dir),
                "--no-colour",
                "--log-format",
                "text",
                "--ready-timeout",
                str(ready_timeout_s),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    platform = Platform(f"http://127.0.0.1:{ports['builder-bff']}", ports, log_path, data_dir)
    try:
        pending = wait_ready(
            [platform.url(a, "/readyz") for a in ("admin-api", "function-runner", "builder-bff")],
            proc,
            ready_timeout_s,
        )
        if pending:
            raise RuntimeError(f"platform not ready ({pending}):\n{platform.log_tail()}")
        yield platform
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
