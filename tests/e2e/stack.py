"""The platform as `make run` starts it (`wfb dev`: the local sidecar and the orchestrator,
function-runner and admin-api as processes on free ports), for cross-service tests that
talk to the services directly; restartable on the same ports and data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from service_kit.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
APPS = {  # app id -> (service directory, package)
    "workflow-orchestrator": ("orchestrator", "orchestrator"),
    "function-runner": ("function-runner", "function_runner"),
    "admin-api": ("admin-api", "admin_api"),
}


@dataclass
class Stack:
    """The platform as `wfb dev` runs it, restartable on the same ports and data."""

    root: Path
    app_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Extra environment per app id."""
    ports: dict[str, int] = field(default_factory=dict)
    dapr_http: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def url(self, app_id: str) -> str:
        return f"http://127.0.0.1:{self.ports[app_id]}"

    def sidecar(self, app_id: str = "admin-api") -> str:
        return f"http://127.0.0.1:{self.dapr_http[app_id]}"

    def write_run_file(self) -> Path:
        apps = []
        for app_id, (directory, package) in APPS.items():
            self.ports[app_id] = free_port()
            self.dapr_http[app_id] = free_port()
            apps.append(
                {
                    "appID": app_id,
                    "appDirPath": str(ROOT / "services" / directory),
                    "appPort": self.ports[app_id],
                    "daprHTTPPort": self.dapr_http[app_id],
                    "daprGRPCPort": free_port(),
                    "command": [sys.executable, "-m", package],
                    **({"env": self.app_env[app_id]} if app_id in self.app_env else {}),
                }
            )
        run_file = {
            "version": 1,
            "common": {"resourcesPath": str(ROOT / "components"), "env": {"WFB_MODE": "embedded"}},
            "apps": apps,
        }
        path = self.root / "dapr.yaml"
        path.write_text(yaml.safe_dump(run_file))
        return path

    def start(self) -> None:
        path = self.root / "dapr.yaml"
        if not path.exists():
            path = self.write_run_file()
        self.starts += 1
        log = open(self.root / f"platform-{self.starts}.log", "wb")  # noqa: SIM115 - the process owns it
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfb_cli.main",
                "dev",
                "--run-file",
                str(path),
                "--data-dir",
                str(self.root / "data"),
                "--no-colour",
                "--ready-timeout",
                "180",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
            env={**os.environ, "WFB_LOG_LEVEL": "INFO"},
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_tail())
            if all(self._ready(app_id) for app_id in APPS):
                return
            time.sleep(0.5)
        raise RuntimeError("platform not ready:\n" + self.log_tail())

    def log_tail(self) -> str:
        return (self.root / f"platform-{self.starts}.log").read_text()[-5000:]

    def _ready(self, app_id: str) -> bool:
        try:
            return httpx.get(f"{self.url(app_id)}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def sign_up(admin: str, name: str) -> tuple[str, str]:
    """Register a new user on admin-api at ``admin`` and log in: (access token, project id).
    The first user of an install gets the default project; later ones make a company,
    organization and project of their own."""
    email = f"{name}-{time.time_ns()}@example.com"
    registered = httpx.post(
        f"{admin}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    assert registered.status_code == 201, registered.text
    token = httpx.post(
        f"{admin}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    ).json()["accessToken"]
    project = registered.json().get("defaultProjectId")
    if project is None:
        auth = {"Authorization": f"Bearer {token}"}
        company = httpx.post(
            f"{admin}/api/v1/companies", json={"name": f"{name} co"}, headers=auth, timeout=30
        ).json()
        org = httpx.post(
            f"{admin}/api/v1/companies/{company['id']}/organizations",
            json={"name": f"{name} org"},
            headers=auth,
            timeout=30,
        ).json()
        project = httpx.post(
            f"{admin}/api/v1/organizations/{org['id']}/projects",
            json={"name": f"{name} project"},
            headers=auth,
            timeout=30,
        ).json()["id"]
    return token, str(project)
