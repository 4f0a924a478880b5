"""The sidecar's own listening sockets (unit, in process).

The sidecar binds its HTTP ports itself and hands the sockets to uvicorn. asyncio sets
TCP_NODELAY only on sockets whose ``proto`` is IPPROTO_TCP, and an accepted socket takes
its ``proto`` from the listening one; bound with proto 0, every response written in two
parts (headers, then body, as a relayed invocation is) waited for the peer's delayed ACK:
about 40 ms per service invocation.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from wfb_sidecar import runtime
from wfb_sidecar.testing import free_port

pytestmark = pytest.mark.unit


async def test_accepted_connections_have_nagle_off() -> None:
    sock = runtime._bind("127.0.0.1", free_port(), "test port")
    assert sock.proto == socket.IPPROTO_TCP
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted: socket.socket = writer.get_extra_info("socket")
        seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(seen, 5) != 0
        writer.close()


def test_a_taken_port_is_a_startup_error() -> None:
    first = runtime._bind("127.0.0.1", free_port(), "first")
    try:
        with pytest.raises(runtime.StartupError, match=r"cannot listen on 127\.0\.0\.1"):
            runtime._bind("127.0.0.1", first.getsockname()[1], "second")
    finally:
        first.close()
