"""SQLite persistence for the workflow backend: schema, and the threads that own the DB.

One writer thread owns the only connection that writes. Work is handed to it as plain
functions; it runs every function queued at that moment inside one transaction (each in
its own savepoint, so one failing operation never leaks half its writes into the batch)
and commits once. That is group commit: with ``synchronous=FULL`` every acknowledged
operation is on disk, yet the fsync is paid once per batch rather than once per
operation. A second thread serves reads from its own connection, each read in its own
snapshot, so long reads never hold up commits (WAL mode lets readers and the writer run
side by side).

The store is internal to the sidecar and SQLite-only, so it uses the ``sqlite3`` module
directly with plain SQL and numbered schema migrations (``PRAGMA user_version``) rather
than an ORM: the writer thread's statements are on every workflow step's hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA: list[str] = [
    # 1: instances, their history, inboxes, activity tasks and timers.
    """
    CREATE TABLE instances (
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        name TEXT NOT NULL,
        version TEXT,
        status INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        started_at INTEGER,
        completed_at INTEGER,
        scheduled_start_at INTEGER,
        input TEXT,
        output TEXT,
        custom_status TEXT,
        failure BLOB,
        parent_app_id TEXT,
        parent_instance_id TEXT,
        parent_execution_id TEXT,
        parent_task_id INTEGER,
        start_event BLOB NOT NULL,
        history_len INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (app_id, instance_id)
    ) WITHOUT ROWID;
    CREATE INDEX instances_by_parent ON instances (parent_app_id, parent_instance_id)
        WHERE parent_instance_id IS NOT NULL;
    CREATE TABLE history (
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        event BLOB NOT NULL,
        PRIMARY KEY (app_id, instance_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        event BLOB NOT NULL
    );
    CREATE INDEX inbox_by_instance ON inbox (app_id, instance_id, id);
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        instance_app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        task_id INTEGER NOT NULL,
        request BLOB NOT NULL
    );
    CREATE INDEX tasks_by_instance ON tasks (instance_app_id, instance_id);
    CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        fire_at INTEGER NOT NULL,
        event BLOB NOT NULL
    );
    CREATE INDEX timers_by_due_time ON timers (fire_at);
    CREATE INDEX timers_by_instance ON timers (app_id, instance_id);
    """,
]


class StoreClosedError(RuntimeError):
    pass


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, cached_statements=512
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-16000")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the resulting version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > len(SCHEMA):
        raise RuntimeError(
            f"workflow database schema version {version} is newer than this sidecar "
            f"understands ({len(SCHEMA)})"
        )
    for number, script in enumerate(SCHEMA[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(SCHEMA)


_Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]


class _Worker:
    """A thread that owns one connection and runs batches of jobs on it."""

    def __init__(self, name: str, conn: sqlite3.Connection, *, transactional: bool, max_batch: int):
        self._conn = conn
        self._transactional = transactional
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        if self._closed or self._loop is None:
            raise StoreClosedError("the workflow store is closed")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((fn, fut))
        return fut

    def stop(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._conn.close()

    def _main(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            results = (
                self._run_transaction(batch) if self._transactional else self._run_reads(batch)
            )
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(_deliver, results)

    def _run_reads(
        self, batch: list[_Job]
    ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        conn = self._conn
        for fn, fut in batch:
            try:
                conn.execute("BEGIN")
                try:
                    results.append((fut, fn(conn), None))
                finally:
                    conn.execute("COMMIT")
            except Exception as exc:
                results.append((fut, None, exc))
        return results

    def _run_transaction(
        self, batch: list[_Job]
    ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        conn = self._conn
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                conn.execute("SAVEPOINT op")
                try:
                    value = fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((fut, None, exc))
                else:
                    conn.execute("RELEASE op")
                    results.append((fut, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("workflow store transaction failed; rolling back the batch")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return [(fut, None, exc) for _, fut in batch]
        return results


def _deliver(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, value, exc in results:
        if fut.cancelled():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)


class Store:
    """The workflow database: ``write`` runs a function in the group-committed writer
    transaction, ``read`` runs one in a read snapshot."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", max_batch: int = 256) -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._max_batch = max_batch
        self._writer: _Worker | None = None
        self._reader: _Worker | None = None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wconn = _connect(self.path, self._synchronous)
        migrate(wconn)
        rconn = _connect(self.path, self._synchronous)
        self._writer = _Worker(
            "wf-store-writer", wconn, transactional=True, max_batch=self._max_batch
        )
        self._reader = _Worker("wf-store-reader", rconn, transactional=False, max_batch=64)
        self._writer.start(loop)
        self._reader.start(loop)

    def close(self) -> None:
        for worker in (self._reader, self._writer):
            if worker is not None:
                worker.stop()
        self._reader = self._writer = None

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            raise StoreClosedError("the workflow store is closed")
        return await self._writer.submit(fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader is None:
            raise StoreClosedError("the workflow store is closed")
        return await self._reader.submit(fn)
