"""The ``wfb dev`` supervisor, on tiny apps that stand in for the services."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from service_kit.testing import free_port
from wfb_cli.dev import Process, Supervisor
from wfb_sidecar.testing import wait_until

pytestmark = pytest.mark.integration

APP = textwrap.dedent(
    """
    import http.server, os, pathlib, sys
    counter = pathlib.Path(sys.argv[2])
    runs = int(counter.read_text() or 0) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    if runs == 1:
        print("crashing on first start", flush=True)
        sys.exit(3)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a): pass
    print("serving", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)


async def test_restarts_a_crashed_app_and_stops_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    port = free_port()
    counter = tmp_path / "runs"
    proc = Process(
        name="tiny",
        argv=[sys.executable, str(script), str(port), str(counter)],
        cwd=tmp_path,
        env=dict(os.environ),
        ready_url=f"http://127.0.0.1:{port}/readyz",
        colour="",
    )
    sup = Supervisor([proc], use_colour=False)
    await sup.start(proc)
    watcher = asyncio.create_task(sup.watch(proc))
    assert await sup.wait_ready(proc, 15)  # after one crash and a 1 s backoff
    assert counter.read_text() == "2"
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{port}/")).text == "ok"
    assert proc.proc is not None
    pid = proc.proc.pid
    await sup.stop_all(grace_s=5)
    watcher.cancel()
    out = capsys.readouterr().out
    assert "tiny | crashing on first start" in out
    assert "exited with code 3; restarting in 1s" in out
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_process_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(60)\n"
    )
    proc = Process("stubborn", [sys.executable, str(script)], tmp_path, dict(os.environ), None, "")
    sup = Supervisor([proc], use_colour=False)
    await sup.start(proc)
    await asyncio.sleep(0.5)
    await sup.stop_all(grace_s=0.5)
    assert proc.proc is not None and proc.proc.returncode == -signal.SIGKILL


STAND_IN = textwrap.dedent(
    """
    import http.server, json, os, pathlib, sys, urllib.request
    app_id = os.environ["APP_ID"]
    here = pathlib.Path.cwd()
    (here / "pids").mkdir(exist_ok=True)
    (here / "pids" / f"{app_id}-{os.getpid()}").write_text("")
    runs = here / f"{app_id}.runs"
    count = int(runs.read_text()) + 1 if runs.exists() else 1
    runs.write_text(str(count))
    if app_id == "alpha" and count == 1:
        print("alpha crashes on its first start", flush=True)
        sys.exit(3)
    sidecar = f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}"

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = 200, json.dumps({"app": app_id, "pid": os.getpid()}).encode()
            if self.path == "/dapr/subscribe":
                body = b"[]"
            if self.path == "/readyz":
                try:
                    urllib.request.urlopen(f"{sidecar}/v1.0/healthz/outbound", timeout=2)
                except Exception as exc:
                    status, body = 503, str(exc).encode()
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    print(f"{app_id} serving on {os.environ['APP_PORT']}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["APP_PORT"])), H).serve_forever()
    """
)
PUBSUB = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
"""


def _write_platform(tmp_path: Path, component: str = PUBSUB) -> dict[str, dict[str, int]]:
    (tmp_path / "app.py").write_text(STAND_IN)
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "pubsub.yaml").write_text(component)
    ports = {
        name: {"app": free_port(), "http": free_port(), "grpc": free_port()}
        for name in ("alpha", "beta")
    }
    apps = "".join(
        textwrap.dedent(
            f"""
              - appID: {name}
                appDirPath: .
                appPort: {p["app"]}
                daprHTTPPort: {p["http"]}
                daprGRPCPort: {p["grpc"]}
                command: ["{sys.executable}", "app.py"]
            """
        )
        for name, p in ports.items()
    )
    (tmp_path / "dapr.yaml").write_text(
        f"version: 1\ncommon:\n  resourcesPath: ./components\napps:{textwrap.indent(apps, '  ')}"
    )
    return ports


def _wfb_dev(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "wfb-dev.log"
    wfb = Path(sys.executable).parent / "wfb"
    proc = subprocess.Popen(
        [
            str(wfb),
            "dev",
            "--run-file",
            "dapr.yaml",
            "--data-dir",
            "data",
            "--no-colour",
            "--ready-timeout",
            "60",
        ],
        cwd=tmp_path,
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, out


def _pids(tmp_path: Path, app_id: str) -> list[int]:
    return sorted(int(p.name.split("-")[-1]) for p in (tmp_path / "pids").glob(f"{app_id}-*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_wfb_dev_runs_supervises_and_stops_the_platform(tmp_path: Path) -> None:
    ports = _write_platform(tmp_path)
    proc, out = _wfb_dev(tmp_path)
    try:
        wait_until(lambda: "platform is up" in out.read_text() or proc.poll() is not None, 90)
        log = out.read_text()
        assert "platform is up" in log, log
        assert "alpha crashes on its first start" in log
        assert "exited with code 3; restarting in 1s" in log
        assert "sidecar ready: alpha" in log
        # Each app reaches the other through its own sidecar port.
        via_alpha = f"http://127.0.0.1:{ports['alpha']['http']}/v1.0/invoke/beta/method/hello"
        assert httpx.get(via_alpha).json()["app"] == "beta"

        # A crash (kill -9) of an app is noticed and the app is restarted.
        (beta,) = _pids(tmp_path, "beta")
        os.kill(beta, signal.SIGKILL)
        wait_until(lambda: len(_pids(tmp_path, "beta")) == 2, 30)
        wait_until(lambda: httpx.get(via_alpha).status_code == 200, 30)
        assert httpx.get(via_alpha).json()["pid"] != beta
        assert f"exited with code -{signal.SIGKILL}" in out.read_text()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = out.read_text()
    assert "sidecar stopped" in log
    assert log.rstrip().endswith("stopped")
    for app_id in ("alpha", "beta"):
        assert not any(_alive(pid) for pid in _pids(tmp_path, app_id)), log
    for p in ports.values():
        for port in p.values():
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_wfb_dev_stops_on_a_configuration_error(tmp_path: Path) -> None:
    _write_platform(tmp_path, PUBSUB.replace("pubsub.in-memory", "pubsub.kafka"))
    proc, out = _wfb_dev(tmp_path)
    try:
        assert proc.wait(60) == 1
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = out.read_text()
    assert "pubsub.kafka" in log
    assert "not restarting" in log
    assert not (tmp_path / "pids").exists()  # no app was started
