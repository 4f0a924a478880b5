"""SQLite statements on the event loop: a locked database is waited for without blocking
the loop, the wait is bounded, and errors no wait can fix come at once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from service_kit import db, sqlite_inline

pytestmark = pytest.mark.integration


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'inline.db'}"


async def _make_table(url: str) -> None:
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    await engine.dispose()


async def test_statements_run_on_the_loop_thread(url: str) -> None:
    await _make_table(url)
    engine = db.create_engine(url)
    threads: set[int] = set()
    raw = sqlite_inline.Cursor.execute

    async def spy(self: sqlite_inline.Cursor, *args: object) -> sqlite_inline.Cursor:
        threads.add(threading.get_ident())
        return await raw(self, *args)  # type: ignore[arg-type]

    sqlite_inline.Cursor.execute = spy  # type: ignore[method-assign]
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'a')"))
            rows = (await conn.execute(text("SELECT id, v FROM t"))).all()
    finally:
        sqlite_inline.Cursor.execute = raw  # type: ignore[method-assign]
        await engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "a")]
    assert threads == {threading.get_ident()}


async def test_a_writer_waits_for_another_without_blocking_the_loop(url: str) -> None:
    """Two transactions of one process on one loop: the second writer must wait for the
    first, which can only commit if the loop keeps running."""
    await _make_table(url)
    engine = db.create_engine(url)
    first_wrote = asyncio.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'first')"))
            first_wrote.set()
            await asyncio.sleep(0.3)  # holds the write lock across an await

    async def second() -> float:
        await first_wrote.wait()
        started = time.monotonic()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (2, 'second')"))
        return time.monotonic() - started

    tick_task = asyncio.create_task(ticker())
    try:
        _, waited = await asyncio.wait_for(asyncio.gather(first(), second()), 5)
    finally:
        tick_task.cancel()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
    assert waited >= 0.2  # it really waited for the first commit
    assert ticks >= 10  # and the loop ran meanwhile (0.3 s / 5 ms: 60 ticks if never blocked)


async def test_the_wait_is_bounded(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await _make_table(url)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    engine = db.create_engine(url)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, say, that never lets go
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'x')"))
        assert 0.2 <= time.monotonic() - started < 2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()


async def test_a_stale_snapshot_fails_at_once(url: str) -> None:
    """SQLITE_BUSY_SNAPSHOT: this transaction read before another committed; no wait can
    make its write valid, so it is not retried."""
    await _make_table(url)
    engine = db.create_engine(url)
    other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    async def read_then_write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("BEGIN"))  # pysqlite defers BEGIN to the first write
            await conn.execute(text("SELECT count(*) FROM t"))
            other.execute("INSERT INTO t (id, v) VALUES (9, 'other')")
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'x')"))

    try:
        started = time.monotonic()
        with pytest.raises(OperationalError):
            await read_then_write()
        assert time.monotonic() - started < 1
    finally:
        other.close()
        await engine.dispose()


async def test_errors_and_rollback_behave_as_in_sqlite3(url: str) -> None:
    await _make_table(url)
    engine = db.create_engine(url)

    async def duplicate() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (2, 'rolled back')"))
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'duplicate')"))

    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, v) VALUES (1, 'kept')"))
        with pytest.raises(IntegrityError):
            await duplicate()
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id FROM t"))).scalars().all()
            pragmas = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        assert rows == [1]
        assert pragmas == ["wal", 1, 0]
    finally:
        await engine.dispose()


async def test_isolation_level_can_be_set(url: str) -> None:
    """SQLAlchemy sets it through aiosqlite's request queue; here it applies at once."""
    await _make_table(url)
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("INSERT INTO t (id, v) VALUES (1, 'autocommitted')"))
            raw = await auto.get_raw_connection()
            assert raw.driver_connection.isolation_level is None  # type: ignore[union-attr]
            await auto.rollback()  # nothing to roll back: the row is already committed
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == "autocommitted"
    finally:
        await engine.dispose()
