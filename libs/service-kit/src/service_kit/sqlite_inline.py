"""SQLite for SQLAlchemy's asyncio engine without a thread per connection.

``aiosqlite`` runs every statement on a connection thread and wakes the event loop to
hand back each result: four thread switches and a GIL hand-over per statement, which on
a busy two-core machine cost more than the statement. SQLite's statements are short,
local and (in WAL mode, with ``synchronous=NORMAL``) don't wait for the disk, so this
driver runs them on the event loop itself.

What must never happen on the loop is SQLite's busy handler sleeping while another
connection of the same process holds the write lock: that connection could only finish
on the loop it would be blocking. So these connections have ``busy_timeout=0``; a
statement that meets a locked database (``SQLITE_BUSY``) awaits a short, growing pause
and tries again, up to ``busy_timeout`` in all, letting the holder finish meanwhile.
Other errors, including ``SQLITE_BUSY_SNAPSHOT`` (a stale read snapshot that no wait
can fix), are raised at once, as SQLite would.

The objects below mimic the part of ``aiosqlite``'s API that SQLAlchemy's aiosqlite
dialect uses; ``create_engine`` in :mod:`service_kit.db` passes :func:`connector` as the
engine's ``async_creator``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

SQLITE_BUSY = 5
_FIRST_PAUSE = 0.0005
_LONGEST_PAUSE = 0.05


async def _retry_busy(call: Callable[[], T], busy_timeout: float) -> T:
    deadline: float | None = None
    pause = _FIRST_PAUSE
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != SQLITE_BUSY:
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + busy_timeout
            elif now >= deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)


class Cursor:
    def __init__(self, connection: Connection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        await _retry_busy(lambda: self._cursor.execute(sql, parameters), self._connection.busy)
        return self

    async def executemany(
        self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]
    ) -> Cursor:
        rows = list(parameters)  # a retry must see the same rows again
        await _retry_busy(lambda: self._cursor.executemany(sql, rows), self._connection.busy)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunAtOnce:
    """Stands in for aiosqlite's request queue, which SQLAlchemy uses directly to set
    ``isolation_level``: the request runs as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting caller
            future.set_exception(error)


class _CursorContext:
    """What ``connection.cursor()`` returns: awaitable and an async context manager."""

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Any:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Cursor:
        return self._cursor

    async def __aexit__(self, *_exc: object) -> None:
        await self._cursor.close()


class Connection:
    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._tx = _RunAtOnce()
        self.busy = busy_timeout

    @property
    def _connection(self) -> sqlite3.Connection | None:  # aiosqlite's name, read by SQLAlchemy
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    def cursor(self) -> _CursorContext:
        return _CursorContext(Cursor(self, self._open().cursor()))

    async def commit(self) -> None:
        await _retry_busy(self._open().commit, self.busy)

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level


def connector(database: str, *, busy_timeout: float = 10.0) -> Callable[[], Awaitable[Connection]]:
    """The ``async_creator`` of an engine on ``database`` (a path or ``:memory:``)."""

    async def connect() -> Connection:
        connection = sqlite3.connect(database, timeout=0, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=0")
        return Connection(connection, busy_timeout)

    return connect
