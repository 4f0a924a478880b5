"""The ``wfb dev`` supervisor, on tiny apps that stand in for the services."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from service_kit.testing import free_port
from wfb_cli.dev import Process, Supervisor

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
