"""SQLite persistence for the workflow backend: schema, and the threads that own the DB.

Writes are plain functions handed to :meth:`Store.write`. Every function queued while
the previous commit is on disk runs inside one transaction (each in its own savepoint, so
a failing operation never leaks half its writes into the batch), which then commits
once. That is group commit: with ``synchronous=FULL`` every acknowledged operation is on
disk, yet the fsync is paid once per batch rather than once per operation. Reads use
their own connections, each read in its own snapshot (WAL mode lets readers and the
writer run side by side).

The store is internal to the sidecar and SQLite-only, so it uses the ``sqlite3`` module
directly with plain SQL and numbered schema migrations (``PRAGMA user_version``) rather
than an ORM: the writer thread's statements are on every workflow step's hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

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
    # 2: row ids of inbox, tasks and timers are never reused (AUTOINCREMENT). The engine
    # keys in-flight activities by task row id; a reused id let one activity's completion
    # delete another's task row and forget it, so that workflow waited forever.
    """
    CREATE TABLE inbox_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        event BLOB NOT NULL
    );
    INSERT INTO inbox_v2 (id, app_id, instance_id, execution_id, event)
        SELECT id, app_id, instance_id, execution_id, event FROM inbox;
    DROP TABLE inbox;
    ALTER TABLE inbox_v2 RENAME TO inbox;
    CREATE INDEX inbox_by_instance ON inbox (app_id, instance_id, id);
    CREATE TABLE tasks_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        instance_app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        task_id INTEGER NOT NULL,
        request BLOB NOT NULL
    );
    INSERT INTO tasks_v2 (id, app_id, instance_app_id, instance_id, execution_id, task_id, request)
        SELECT id, app_id, instance_app_id, instance_id, execution_id, task_id, request FROM tasks;
    DROP TABLE tasks;
    ALTER TABLE tasks_v2 RENAME TO tasks;
    CREATE INDEX tasks_by_instance ON tasks (instance_app_id, instance_id);
    CREATE TABLE timers_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app_id TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        fire_at INTEGER NOT NULL,
        event BLOB NOT NULL
    );
    INSERT INTO timers_v2 (id, app_id, instance_id, execution_id, fire_at, event)
        SELECT id, app_id, instance_id, execution_id, fire_at, event FROM timers;
    DROP TABLE timers;
    ALTER TABLE timers_v2 RENAME TO timers;
    CREATE INDEX timers_by_due_time ON timers (fire_at);
    CREATE INDEX timers_by_instance ON timers (app_id, instance_id);
    """,
]


class StoreClosedError(RuntimeError):
    pass


class StoreInUseError(RuntimeError):
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


_Result = tuple["asyncio.Future[Any]", Any, BaseException | None]
# An operation, the future for its result, and an optional callback run with the result as
# soon as the operation's SQL has run, before the commit (see ``Store.write``).
_Job = tuple[
    Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", Callable[[Any], None] | None
]


class _Writer:
    """Group commit on the event loop.

    Operations run on the loop thread, each in its own savepoint inside the batch's
    transaction: they are short, touch pages SQLite already caches, and running them where
    their results are used avoids handing the interpreter lock between threads for every
    step. Only the ``COMMIT`` (the fsync) runs on a separate thread. Operations arriving
    while a commit is on disk queue up and form the next batch.
    """

    def __init__(self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop, max_batch: int):
        self._conn = conn
        self._loop = loop
        self._max_batch = max_batch
        self._pending: list[_Job] = []
        self._flush_scheduled = False
        self._committing = False
        self._closed = False
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wf-store-commit")
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(
        self, fn: Callable[[sqlite3.Connection], T], applied: Callable[[T], None] | None
    ) -> asyncio.Future[T]:
        if self._closed:
            raise StoreClosedError("the workflow store is closed")
        fut: asyncio.Future[T] = self._loop.create_future()
        self._pending.append((fn, fut, applied))
        self._idle.clear()
        if not self._committing and not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._committing or not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        conn = self._conn
        results: list[_Result] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut, applied in batch:
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
                    if applied is not None:
                        _call_applied(applied, value)
        except Exception as exc:
            log.exception("workflow store batch failed; rolling it back")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._finish([(fut, None, exc) for _, fut, _ in batch])
            return
        self._committing = True
        commit = self._loop.run_in_executor(self._committer, self._commit)
        commit.add_done_callback(lambda done: self._committed(done, results))

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def _committed(self, done: asyncio.Future[None], results: list[_Result]) -> None:
        self._committing = False
        exc = done.exception() if not done.cancelled() else StoreClosedError("commit cancelled")
        if exc is not None:
            log.error("workflow store commit failed: %s", exc)
            results = [(fut, None, exc) for fut, _, _ in results]
        self._finish(results)

    def _finish(self, results: list[_Result]) -> None:
        for fut, value, exc in results:
            if fut.cancelled():
                continue
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(value)
        if self._pending:
            self._flush()
        else:
            self._idle.set()

    async def close(self) -> None:
        self._closed = True
        await self._idle.wait()
        self._committer.shutdown(wait=True)
        self._conn.close()


class Store:
    """The workflow database: ``write`` runs a function in the group-committed write
    transaction; ``read`` runs one in a read snapshot (``offload`` moves a large read to
    a thread so it cannot hold up the event loop)."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", max_batch: int = 256) -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"unsupported synchronous mode {synchronous!r}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._max_batch = max_batch
        self._writer: _Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._offload: ThreadPoolExecutor | None = None
        self._offload_conn: sqlite3.Connection | None = None
        self._lock_file: IO[bytes] | None = None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _exclusive_lock(self.path)
        try:
            wconn = _connect(self.path, self._synchronous)
            migrate(wconn)
        except BaseException:
            self._lock_file.close()
            self._lock_file = None
            raise
        self._writer = _Writer(wconn, loop, self._max_batch)
        self._reader = _connect(self.path, self._synchronous)
        self._offload_conn = _connect(self.path, self._synchronous)
        self._offload = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wf-store-read")

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._offload is not None:
            self._offload.shutdown(wait=True)
        for conn in (self._reader, self._offload_conn):
            if conn is not None:
                conn.close()
        self._writer = None
        self._reader = self._offload_conn = None
        self._offload = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    async def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        applied: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``fn`` in the next group commit; returns its result once durable.

        ``applied`` is called with the result as soon as ``fn`` has run, while the commit
        is still on its way to disk: for work that is safe to start early because it is
        at-least-once anyway (an activity whose scheduling a crash loses runs again).
        """
        if self._writer is None:
            raise StoreClosedError("the workflow store is closed")
        return await self._writer.submit(fn, applied)

    async def read(self, fn: Callable[[sqlite3.Connection], T], *, offload: bool = False) -> T:
        if offload:
            if self._offload is None or self._offload_conn is None:
                raise StoreClosedError("the workflow store is closed")
            conn = self._offload_conn
            return await asyncio.get_running_loop().run_in_executor(
                self._offload, _snapshot, conn, fn
            )
        if self._reader is None:
            raise StoreClosedError("the workflow store is closed")
        return _snapshot(self._reader, fn)


def _call_applied(applied: Callable[[Any], None], value: Any) -> None:
    try:
        applied(value)
    except Exception:
        log.exception("an early callback of a workflow store operation failed")


def _exclusive_lock(path: Path) -> IO[bytes]:
    """Two backends dispatching the same database would both run every workflow; the
    second one to start is refused. The OS drops the lock when the process dies."""
    handle = open(f"{path}.lock", "wb")  # noqa: SIM115 - held open for the store's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreInUseError(
            f"another workflow backend is already using {path}; stop it or choose another "
            "data directory"
        ) from None
    return handle


def _snapshot(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")
