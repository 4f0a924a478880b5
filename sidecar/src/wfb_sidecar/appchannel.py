"""The channel to one app: where it listens, and whether it is up right now.

The sidecar holds one idle TCP connection to the app (invisible in its access log):
when the app stops, crashes or restarts, the connection closes at once. The sidecar
then reconnects (every ``interval`` seconds while the app is down); every new
connection runs the ``on_up`` callbacks, which re-discover the app's subscriptions (an
app that restarted may subscribe differently). A delivery that cannot connect also
marks the app down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[], Coroutine[Any, Any, None]]


class AppChannel:
    def __init__(
        self,
        app_id: str,
        host: str,
        port: int | None,
        *,
        token: str | None = None,
        interval: float = 0.5,
    ) -> None:
        self.app_id = app_id
        self.host = host
        self.port = port
        self.token = token
        self.interval = interval
        self.up = False
        self._on_up: list[Listener] = []
        self._on_change: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._generation = 0
        self._listener_tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str | None:
        return f"http://{self.host}:{self.port}" if self.port is not None else None

    @property
    def generation(self) -> int:
        """Counts the times the app came up (a restart is a new generation)."""
        return self._generation

    def headers(self) -> dict[str, str]:
        return {"dapr-api-token": self.token} if self.token else {}

    def on_up(self, listener: Listener) -> None:
        self._on_up.append(listener)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._on_change.append(listener)

    def start(self) -> None:
        if self.port is not None:
            self._task = asyncio.create_task(self._run(), name=f"appchannel-{self.app_id}")

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._task, *self._listener_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        assert self.port is not None
        try:
            # asyncio.timeout, not asyncio.wait_for: on Python 3.11, wait_for loses a
            # cancellation that arrives as the attempt fails (CPython gh-86296); stop()
            # then waited forever for this loop, which went on probing the closed port.
            async with asyncio.timeout(2):
                return await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError):
            return None

    async def _run(self) -> None:
        while not self._stopping:
            connection = await self._connect()
            if self._stopping:
                if connection is not None:
                    connection[1].close()
                return
            if connection is None:
                if self.up:
                    log.info("app %s is down (port %s closed)", self.app_id, self.port)
                    self._set(False)
                await asyncio.sleep(self.interval)
                continue
            self._came_up()
            opened = asyncio.get_running_loop().time()
            await self._watch(*connection)
            if asyncio.get_running_loop().time() - opened < self.interval:
                # An app (or a proxy) that closes idle connections at once: do not spin.
                await asyncio.sleep(self.interval)

    def _came_up(self) -> None:
        """A new connection after none or after a lost one: a (re)started app."""
        self._generation += 1
        if not self.up:
            log.info("app %s is up on port %s", self.app_id, self.port)
        self._set(True)
        for listener in self._on_up:
            task = asyncio.create_task(listener())
            self._listener_tasks.add(task)
            task.add_done_callback(self._listener_tasks.discard)

    @staticmethod
    async def _watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Hold an idle connection until the app closes it (it stops, crashes or restarts)."""
        with contextlib.suppress(OSError):
            await reader.read(1)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    def mark_down(self) -> None:
        """A request could not connect: treat the app as down until a probe succeeds."""
        if self.up:
            log.info("app %s is unreachable; waiting for it to come back", self.app_id)
            self._set(False)

    def _set(self, up: bool) -> None:
        self.up = up
        for listener in self._on_change:
            listener()
