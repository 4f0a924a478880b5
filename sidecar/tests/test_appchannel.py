"""Watching an app: up, down, restarts (unit, on loopback sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.testing import free_port

pytestmark = pytest.mark.unit


class _App:
    """A listening socket that holds connections open, like an HTTP server with keep-alive."""

    def __init__(self, port: int, close_at_once: bool = False) -> None:
        self.port = port
        self.close_at_once = close_at_once
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.close_at_once:
            writer.close()
        else:
            self.writers.append(writer)

    async def start(self) -> _App:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


async def _until(condition: Callable[[], bool], limit_s: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_up_down_and_restart_are_seen() -> None:
    port = free_port()
    ups: list[int] = []
    channel = AppChannel("app", "127.0.0.1", port, interval=0.05)

    async def on_up() -> None:
        ups.append(channel.generation)

    channel.on_up(on_up)
    channel.start()
    try:
        await asyncio.sleep(0.2)
        assert not channel.up
        app = await _App(port).start()
        await _until(lambda: channel.up and ups == [1])
        await app.stop()
        app = await _App(port).start()  # a restart, however quick, is a new generation
        await _until(lambda: len(ups) >= 2)
        assert channel.up
        await app.stop()
        await _until(lambda: not channel.up)
    finally:
        await channel.stop()


async def test_an_app_closing_idle_connections_does_not_make_it_spin() -> None:
    port = free_port()
    app = await _App(port, close_at_once=True).start()
    channel = AppChannel("app", "127.0.0.1", port, interval=0.2)
    channel.start()
    try:
        await asyncio.sleep(1.0)
        assert 1 <= channel.generation <= 7
    finally:
        await channel.stop()
        await app.stop()


async def test_mark_down_and_no_port() -> None:
    channel = AppChannel("app", "127.0.0.1", None)
    channel.start()  # nothing to watch
    assert channel.base_url is None
    await channel.stop()
    changes: list[bool] = []
    watched = AppChannel("w", "127.0.0.1", free_port())
    watched.on_change(lambda: changes.append(watched.up))
    watched.up = True
    watched.mark_down()
    watched.mark_down()
    assert changes == [False]


async def test_stop_ends_the_watch_even_when_a_probe_fails_at_that_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app's port closes while the sidecar stops: the probe's connection attempt fails
    in the same loop iteration as the cancellation. The cancellation must win (Python
    3.11's ``asyncio.wait_for`` returned the attempt's result instead, so the channel kept
    probing a dead port forever and the sidecar never finished stopping)."""
    attempts: list[asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = []

    async def connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        attempt = asyncio.get_running_loop().create_future()
        attempts.append(attempt)
        return await attempt

    monkeypatch.setattr("wfb_sidecar.appchannel.asyncio.open_connection", connect)
    channel = AppChannel("app", "127.0.0.1", free_port(), interval=0.05)
    channel.start()
    await _until(lambda: len(attempts) == 1)
    attempts[0].set_exception(ConnectionRefusedError(111, "Connection refused"))
    stopping = asyncio.create_task(channel.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done, f"stop() hung; the channel probed {len(attempts)} times"
    assert len(attempts) == 1  # no probe after stop()
