"""``wfb dev``: the whole platform on one machine, supervised.

Starts the local sidecar and every app of ``dapr.yaml`` with the environment ``dapr run``
would give it, prefixes and colours their output, waits until each answers ``/readyz``,
restarts an app that exits (with exponential backoff), and stops everything cleanly on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
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
RESET = "\033[0m"
MAX_BACKOFF_S = 30.0
HEALTHY_RESET_S = 60.0


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


class Supervisor:
    def __init__(self, processes: Sequence[Process], use_colour: bool) -> None:
        self.processes = list(processes)
        self.use_colour = use_colour
        self.stopping = False
        self.width = max(len(p.name) for p in processes)

    def say(self, name: str, colour: str, line: str) -> None:
        prefix = f"{name:<{self.width}} |"
        if self.use_colour:
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
        async for raw in proc.stdout:
            self.say(p.name, p.colour, raw.decode(errors="replace").rstrip())

    async def wait_ready(self, p: Process, timeout_s: float) -> bool:
        if p.ready_url is None:
            return True
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if p.proc is not None and p.proc.returncode is not None and not p.watched:
                    return False
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(p.ready_url)).status_code == 200:
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
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.proc.pid, signal.SIGKILL)
                    await p.proc.wait()


def _app_argv(command: list[str]) -> list[str]:
    """Run ``uv run ... <script>`` commands with this environment's script directly:
    same program, no per-start sync, no lock contention between apps."""
    if command[:2] == ["uv", "run"]:
        script = Path(sys.executable).parent / command[-1]
        if script.exists():
            return [str(script)]
    return command


def sidecar_available() -> bool:
    return importlib.util.find_spec("wfb_sidecar.__main__") is not None


def build_processes(
    run_file: RunFile, data_dir: Path, log_format: str, only: set[str] | None
) -> list[Process]:
    base_env = {**os.environ, "WFB_DATA_DIR": str(data_dir), "WFB_LOG_FORMAT": log_format}
    base_env.setdefault("PYTHONUNBUFFERED", "1")
    processes: list[Process] = []
    with_sidecar = sidecar_available()
    if with_sidecar:
        first = run_file.apps[0]
        processes.append(
            Process(
                name="sidecar",
                argv=[
                    sys.executable,
                    "-m",
                    "wfb_sidecar",
                    "--run-file",
                    str(run_file.base_dir / "dapr.yaml"),
                    "--data-dir",
                    str(data_dir),
                ],
                cwd=run_file.base_dir,
                env=base_env,
                ready_url=f"http://127.0.0.1:{first.dapr_http_port or 3500}/v1.0/healthz",
                colour="\033[90m",
            )
        )
    for i, app in enumerate(run_file.apps):
        if only and app.app_id not in only:
            continue
        env = {**base_env, **run_file.app_env(app)}
        if not with_sidecar:
            env["WFB_REQUIRE_SIDECAR"] = "false"
        port = app.app_port
        processes.append(
            Process(
                name=app.app_id,
                argv=_app_argv(app.command),
                cwd=run_file.app_dir(app),
                env=env,
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
        for p in processes:
            await supervisor.start(p)
            watchers.append(asyncio.create_task(supervisor.watch(p)))
            if p.name == "sidecar" and not await supervisor.wait_ready(p, ready_timeout_s):
                supervisor.say(p.name, p.colour, "did not become ready")
                return 1
        results = await asyncio.gather(
            *(supervisor.wait_ready(p, ready_timeout_s) for p in processes)
        )
        for p, ok in zip(processes, results, strict=True):
            state = "ready" if ok else f"NOT ready after {ready_timeout_s:.0f}s"
            supervisor.say(p.name, p.colour, f"{state} ({p.ready_url or 'no health URL'})")
        if all(results):
            supervisor.say("wfb", "", "platform is up; Ctrl-C stops it")
        await stop.wait()
        supervisor.say("wfb", "", "stopping...")
        return 0
    finally:
        await supervisor.stop_all()
        for task in watchers:
            task.cancel()
