"""``wfb dev``: the whole platform on one machine, supervised.

Starts the local sidecar (``python -m wfb_sidecar``, one process serving every app's
Dapr ports) and waits until it is healthy, then starts every app of ``dapr.yaml`` with
the environment ``dapr run`` would give it. Output is prefixed with the process name and
coloured. It waits until each app answers ``/readyz`` (which checks the app's sidecar),
restarts a process that exits (with exponential backoff; the sidecar too), and stops
everything cleanly on Ctrl-C or SIGTERM: apps first, then the sidecar. A process that
exits with 78 (EX_CONFIG: a configuration error, e.g. an unsupported component) is not
restarted: the platform stops and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wfb_sidecar.runfile import RunFile

COLOURS = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[91m")
SIDECAR_COLOUR = "\033[90m"
RESET = "\033[0m"
MAX_BACKOFF_S = 30.0
HEALTHY_RESET_S = 60.0
EXIT_CONFIG = 78


@dataclass
class Process:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    ready_url: str | None
    colour: str
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)
    watched: bool = False
    failed: bool = False


class Supervisor:
    def __init__(self, processes: Sequence[Process], use_colour: bool) -> None:
        self.processes = list(processes)
        self.use_colour = use_colour
        self.stopping = False
        self.fatal = asyncio.Event()
        self.width = max(len(p.name) for p in processes)

    def say(self, name: str, colour: str, line: str) -> None:
        prefix = f"{name:<{self.width}} |"
        if self.use_colour and colour:
            prefix = f"{colour}{prefix}{RESET}"
        sys.stdout.write(f"{prefix} {line}\n")
        sys.stdout.flush()

    async def start(self, p: Process) -> None:
        p.proc = await asyncio.create_subprocess_exec(
            *p.argv,
            cwd=p.cwd,
            env=p.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        p.started_at = time.monotonic()
        p.pump = asyncio.create_task(self._pump(p, p.proc))

    async def _pump(self, p: Process, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line longer than the stream limit: print what came
                raw = await proc.stdout.read(65536)
            if not raw:
                return
            self.say(p.name, p.colour, raw.decode(errors="replace").rstrip())

    async def wait_ready(self, p: Process, timeout_s: float) -> bool:
        if p.ready_url is None:
            return True
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline and not p.failed and not self.stopping:
                if p.proc is not None and p.proc.returncode is not None and not p.watched:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(p.ready_url)).status_code in (200, 204):
                        return True
                await asyncio.sleep(0.25)
        return False

    async def watch(self, p: Process) -> None:
        """Restart ``p`` whenever it exits, backing off while it keeps failing."""
        p.watched = True
        while not self.stopping:
            assert p.proc is not None
            code = await p.proc.wait()
            if p.pump is not None:
                await p.pump
            if self.stopping:
                return
            if code == EXIT_CONFIG:
                p.failed = True
                self.say(p.name, p.colour, "exited with a configuration error (78); not restarting")
                self.fatal.set()
                return
            if time.monotonic() - p.started_at > HEALTHY_RESET_S:
                p.restarts = 0
            delay = min(MAX_BACKOFF_S, 2.0**p.restarts)
            p.restarts += 1
            self.say(p.name, p.colour, f"exited with code {code}; restarting in {delay:.0f}s")
            await asyncio.sleep(delay)
            if not self.stopping:
                await self.start(p)

    async def stop_all(self, grace_s: float = 10.0) -> None:
        self.stopping = True
        # Apps first, then the sidecar (the first process), so apps drain through it.
        for group in (self.processes[1:], self.processes[:1]):
            live = [p for p in group if p.proc is not None and p.proc.returncode is None]
            for p in live:
                assert p.proc is not None
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.proc.pid, signal.SIGTERM)
            for p in live:
                assert p.proc is not None
                try:
                    await asyncio.wait_for(p.proc.wait(), grace_s)
                except TimeoutError:
                    self.say(p.name, p.colour, f"did not stop within {grace_s:.0f}s; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.proc.pid, signal.SIGKILL)
                    await p.proc.wait()
            for p in group:
                if p.pump is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(p.pump, 2)


def _app_argv(command: list[str]) -> list[str]:
    """Run ``uv run ... <script>`` commands with this environment's script directly:
    same program, no per-start sync, no lock contention between apps."""
    if command[:2] == ["uv", "run"]:
        script = Path(sys.executable).parent / command[-1]
        if script.exists():
            return [str(script)]
    return command


def build_processes(
    run_file: RunFile,
    run_file_path: Path,
    data_dir: Path,
    log_format: str,
    only: set[str] | None,
) -> list[Process]:
    """The sidecar first, then every app (or the ``only`` ones)."""
    base_env = {**os.environ, "WFB_DATA_DIR": str(data_dir), "WFB_LOG_FORMAT": log_format}
    base_env.setdefault("PYTHONUNBUFFERED", "1")
    first = run_file.apps[0]
    processes = [
        Process(
            name="sidecar",
            argv=[
                sys.executable,
                "-m",
                "wfb_sidecar",
                "--run-file",
                str(run_file_path),
                "--data-dir",
                str(data_dir),
                "--log-format",
                log_format,
            ],
            cwd=run_file.base_dir,
            env=base_env,
            ready_url=f"http://127.0.0.1:{first.dapr_http_port or 3500}/v1.0/healthz",
            colour=SIDECAR_COLOUR,
        )
    ]
    for i, app in enumerate(run_file.apps):
        if only and app.app_id not in only:
            continue
        if not app.command:
            continue  # an app started elsewhere; the sidecar still serves its ports
        port = app.app_port
        processes.append(
            Process(
                name=app.app_id,
                argv=_app_argv(app.command),
                cwd=run_file.app_dir(app),
                # --data-dir wins over a WFB_DATA_DIR of the run file (meant for dapr run).
                env={**base_env, **run_file.app_env(app), "WFB_DATA_DIR": str(data_dir)},
                ready_url=f"http://127.0.0.1:{port}/readyz" if port else None,
                colour=COLOURS[i % len(COLOURS)],
            )
        )
    return processes


async def run_platform(processes: list[Process], ready_timeout_s: float, use_colour: bool) -> int:
    supervisor = Supervisor(processes, use_colour)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watchers: list[asyncio.Task[None]] = []
    try:
        sidecar, apps = processes[0], processes[1:]
        await supervisor.start(sidecar)
        watchers.append(asyncio.create_task(supervisor.watch(sidecar)))
        if not await supervisor.wait_ready(sidecar, ready_timeout_s):
            if not stop.is_set():
                supervisor.say("wfb", "", "the sidecar did not become ready; stopping")
            return 1
        for p in apps:
            await supervisor.start(p)
            watchers.append(asyncio.create_task(supervisor.watch(p)))
        results = await asyncio.gather(*(supervisor.wait_ready(p, ready_timeout_s) for p in apps))
        for p, ok in zip(apps, results, strict=True):
            state = "ready" if ok else f"NOT ready after {ready_timeout_s:.0f}s"
            supervisor.say(p.name, p.colour, f"{state} ({p.ready_url or 'no health URL'})")
        if all(results):
            supervisor.say("wfb", "", "platform is up; Ctrl-C stops it")
        stopped = asyncio.create_task(stop.wait())
        fatal = asyncio.create_task(supervisor.fatal.wait())
        await asyncio.wait({stopped, fatal}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        fatal.cancel()
        if supervisor.fatal.is_set():
            supervisor.say("wfb", "", "a process failed with a configuration error; stopping")
            return 1
        supervisor.say("wfb", "", "stopping...")
        return 0
    finally:
        await supervisor.stop_all()
        for watcher in watchers:
            watcher.cancel()
        supervisor.say("wfb", "", "stopped")
