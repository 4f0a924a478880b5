"""The basic state API on ``state.sqlite`` components.

Keys are prefixed as daprd does (``keyPrefix``: ``appid`` by default, ``name``, ``none``
or a literal). ETags give optimistic concurrency (an ETag that does not match is a
409, ``first-write`` without an ETag refuses to overwrite), ``ttlInSeconds`` expires an
item, and a transaction applies all of its operations or none. In embedded mode each
store is the file ``<data dir>/state-<component name>.db``; the component's
``connectionString`` is what real daprd uses.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc

from wfb_sidecar import errors
from wfb_sidecar.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    etag TEXT NOT NULL,
    expires_at_ms INTEGER,
    updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""


class EtagMismatch(Exception):
    pass


@dataclass(frozen=True)
class SetOp:
    key: str
    value: bytes
    etag: str | None = None
    first_write: bool = False
    ttl_s: float | None = None


@dataclass(frozen=True)
class DeleteOp:
    key: str
    etag: str | None = None
    first_write: bool = False


@dataclass(frozen=True)
class Item:
    key: str
    value: bytes
    etag: str


def _now_ms() -> int:
    return int(time.time() * 1000)


def _current_etag(conn: sqlite3.Connection, key: str, now: int) -> str | None:
    row = conn.execute(
        "SELECT etag FROM state WHERE key = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
        (key, now),
    ).fetchone()
    return row[0] if row else None


def _apply(conn: sqlite3.Connection, op: SetOp | DeleteOp, now: int) -> None:
    current = _current_etag(conn, op.key, now)
    if op.etag is not None and op.etag != current:
        raise EtagMismatch(f"possible etag mismatch for key {op.key!r}")
    if op.etag is None and op.first_write and current is not None and isinstance(op, SetOp):
        raise EtagMismatch(f"key {op.key!r} exists and first-write concurrency needs its etag")
    if isinstance(op, DeleteOp):
        conn.execute("DELETE FROM state WHERE key = ?", (op.key,))
        return
    expires = now + int(op.ttl_s * 1000) if op.ttl_s is not None and op.ttl_s >= 0 else None
    conn.execute(
        "INSERT INTO state (key, value, etag, expires_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = excluded.etag, "
        "expires_at_ms = excluded.expires_at_ms, updated_at_ms = excluded.updated_at_ms",
        (op.key, op.value, uuid.uuid4().hex, expires, now),
    )


class SqliteStateStore:
    type = "state.sqlite"

    def __init__(self, name: str, path: Path, key_prefix: str, actor_state_store: bool) -> None:
        self.name = name
        self.db = Database(path, SCHEMA)
        self.key_prefix = key_prefix
        self.actor_state_store = actor_state_store

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def full_key(self, app_id: str, key: str) -> str:
        if not key:
            raise errors.bad_request("state key must not be empty", "ERR_MALFORMED_REQUEST")
        prefix = {"appid": app_id, "name": self.name, "none": ""}.get(
            self.key_prefix.lower(), self.key_prefix
        )
        return f"{prefix}||{key}" if prefix else key

    async def get_many(self, keys: list[str]) -> dict[str, Item]:
        def get(conn: sqlite3.Connection) -> dict[str, Item]:
            now = _now_ms()
            result: dict[str, Item] = {}
            for key in keys:
                row = conn.execute(
                    "SELECT value, etag FROM state WHERE key = ? "
                    "AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
                    (key, now),
                ).fetchone()
                if row is not None:
                    result[key] = Item(key, bytes(row[0]), row[1])
            return result

        return await self.db.run(get)

    async def apply(self, ops: list[SetOp | DeleteOp]) -> None:
        """Apply every operation in one transaction; an ETag mismatch applies none."""

        def run(conn: sqlite3.Connection) -> None:
            now = _now_ms()
            for op in ops:
                _apply(conn, op, now)

        try:
            await self.db.run(run)
        except EtagMismatch as exc:
            raise errors.DaprError(
                "ERR_STATE_SAVE",
                f"failed saving state in state store {self.name}: {exc}",
                http_status=409,
                grpc_code=grpc.StatusCode.ABORTED,
            ) from None
