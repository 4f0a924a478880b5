"""The pub/sub log in SQLite: messages, consumer groups and pending deliveries.

A consumer group is one subscriber app on one topic of one pub/sub component (Dapr's
default consumer id is the app id). Publishing a message inserts it and one pending
delivery per group known at that moment, in the same transaction: once the publish
call has answered, the message is on disk for every subscriber. A message published to
a topic that has no group yet is *unclaimed*: it is kept for the component's
``unclaimedRetention`` and handed to every group that appears in that window (the
platform's apps discover their subscriptions a moment after they start). A delivery
row disappears only when the subscriber acknowledged the message, dropped it, or it was
moved to the dead-letter topic or to the ``undeliverable`` table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from wfb_sidecar.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    is_raw INTEGER NOT NULL,
    publisher TEXT NOT NULL,
    published_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    unclaimed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_unclaimed ON messages (pubsub, topic, id) WHERE unclaimed = 1;
CREATE TABLE IF NOT EXISTS consumer_groups (
    app_id TEXT NOT NULL,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, pubsub, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    app_id TEXT NOT NULL,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (app_id, pubsub, topic, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id);
CREATE TABLE IF NOT EXISTS stream_groups (
    app_id TEXT NOT NULL,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    closed_at_ms INTEGER,
    PRIMARY KEY (app_id, pubsub, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS undeliverable (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    pubsub TEXT NOT NULL,
    topic TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    is_raw INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    failed_at_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True, order=True)
class GroupKey:
    app_id: str
    pubsub: str
    topic: str


@dataclass(frozen=True)
class NewMessage:
    body: bytes
    content_type: str
    is_raw: bool
    expires_at_ms: int | None = None


@dataclass(frozen=True)
class Pending:
    message_id: int
    attempts: int
    next_attempt_at_ms: int
    body: bytes
    content_type: str
    is_raw: bool
    expires_at_ms: int | None


def _insert_messages(
    conn: sqlite3.Connection,
    pubsub: str,
    topic: str,
    publisher: str,
    messages: list[NewMessage],
    now_ms: int,
) -> tuple[list[int], list[GroupKey]]:
    groups = [
        GroupKey(row[0], pubsub, topic)
        for row in conn.execute(
            "SELECT app_id FROM consumer_groups WHERE pubsub = ? AND topic = ?", (pubsub, topic)
        )
    ]
    ids: list[int] = []
    for message in messages:
        cursor = conn.execute(
            "INSERT INTO messages (pubsub, topic, body, content_type, is_raw, publisher, "
            "published_at_ms, expires_at_ms, unclaimed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pubsub,
                topic,
                message.body,
                message.content_type,
                int(message.is_raw),
                publisher,
                now_ms,
                message.expires_at_ms,
                0 if groups else 1,
            ),
        )
        message_id = cursor.lastrowid
        assert message_id is not None
        ids.append(message_id)
        conn.executemany(
            "INSERT INTO deliveries (app_id, pubsub, topic, message_id) VALUES (?, ?, ?, ?)",
            [(g.app_id, g.pubsub, g.topic, message_id) for g in groups],
        )
    return ids, groups


def _remove_delivery(conn: sqlite3.Connection, group: GroupKey, message_id: int) -> None:
    conn.execute(
        "DELETE FROM deliveries WHERE app_id = ? AND pubsub = ? AND topic = ? AND message_id = ?",
        (group.app_id, group.pubsub, group.topic, message_id),
    )
    _collect(conn, message_id)


def _collect(conn: sqlite3.Connection, message_id: int) -> None:
    conn.execute(
        "DELETE FROM messages WHERE id = ? AND unclaimed = 0 AND NOT EXISTS "
        "(SELECT 1 FROM deliveries WHERE message_id = ?)",
        (message_id, message_id),
    )


class PubSubStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, SCHEMA)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def publish(
        self, pubsub: str, topic: str, publisher: str, messages: list[NewMessage], now_ms: int
    ) -> tuple[list[int], list[GroupKey]]:
        """Store messages and their pending deliveries; return ids and the groups to wake."""
        return await self.db.run(
            lambda conn: _insert_messages(conn, pubsub, topic, publisher, messages, now_ms)
        )

    async def groups(self) -> list[GroupKey]:
        def query(conn: sqlite3.Connection) -> list[GroupKey]:
            rows = conn.execute("SELECT app_id, pubsub, topic FROM consumer_groups")
            return [GroupKey(*row) for row in rows]

        return await self.db.run(query)

    async def register(self, group: GroupKey, now_ms: int, retention_ms: int) -> int | None:
        """Create the group if new; it takes the unclaimed messages still retained.

        Returns the number of messages handed over, or None if the group existed."""

        def register(conn: sqlite3.Connection) -> int | None:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO consumer_groups (app_id, pubsub, topic, created_at_ms) "
                "VALUES (?, ?, ?, ?)",
                (group.app_id, group.pubsub, group.topic, now_ms),
            )
            if cursor.rowcount == 0:
                return None
            cursor = conn.execute(
                "INSERT INTO deliveries (app_id, pubsub, topic, message_id) "
                "SELECT ?, pubsub, topic, id FROM messages WHERE unclaimed = 1 AND pubsub = ? "
                "AND topic = ? AND published_at_ms >= ? "
                "AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
                (group.app_id, group.pubsub, group.topic, now_ms - retention_ms, now_ms),
            )
            return cursor.rowcount

        return await self.db.run(register)

    async def unregister(self, group: GroupKey) -> int:
        """Forget a group the app no longer subscribes; return the deliveries dropped."""

        def unregister(conn: sqlite3.Connection) -> int:
            key = (group.app_id, group.pubsub, group.topic)
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT message_id FROM deliveries WHERE app_id = ? AND pubsub = ? AND topic = ?",
                    key,
                )
            ]
            conn.execute(
                "DELETE FROM deliveries WHERE app_id = ? AND pubsub = ? AND topic = ?", key
            )
            conn.execute(
                "DELETE FROM consumer_groups WHERE app_id = ? AND pubsub = ? AND topic = ?", key
            )
            conn.execute(
                "DELETE FROM stream_groups WHERE app_id = ? AND pubsub = ? AND topic = ?", key
            )
            for message_id in ids:
                _collect(conn, message_id)
            return len(ids)

        return await self.db.run(unregister)

    async def mark_streaming(self, group: GroupKey, closed_at_ms: int | None) -> None:
        """Remember a group made by streaming subscriptions (None: a stream is open now;
        else when its last stream closed), so discovery does not take it away."""

        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO stream_groups (app_id, pubsub, topic, closed_at_ms) "
                "VALUES (?, ?, ?, ?)",
                (group.app_id, group.pubsub, group.topic, closed_at_ms),
            )

        await self.db.run(mark)

    async def stream_groups(self) -> dict[GroupKey, int | None]:
        def query(conn: sqlite3.Connection) -> dict[GroupKey, int | None]:
            rows = conn.execute("SELECT app_id, pubsub, topic, closed_at_ms FROM stream_groups")
            return {GroupKey(r[0], r[1], r[2]): r[3] for r in rows}

        return await self.db.run(query)

    async def streams_closed(self, now_ms: int) -> None:
        """At startup no stream is open: every streaming group's streams closed now."""

        def close(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE stream_groups SET closed_at_ms = ? WHERE closed_at_ms IS NULL", (now_ms,)
            )

        await self.db.run(close)

    async def head(self, group: GroupKey) -> Pending | None:
        """The oldest pending delivery of a group (deliveries are in publish order)."""

        def head(conn: sqlite3.Connection) -> Pending | None:
            row = conn.execute(
                "SELECT d.message_id, d.attempts, d.next_attempt_at_ms, m.body, m.content_type, "
                "m.is_raw, m.expires_at_ms FROM deliveries d JOIN messages m ON m.id = d.message_id "
                "WHERE d.app_id = ? AND d.pubsub = ? AND d.topic = ? "
                "ORDER BY d.message_id LIMIT 1",
                (group.app_id, group.pubsub, group.topic),
            ).fetchone()
            if row is None:
                return None
            return Pending(row[0], row[1], row[2], bytes(row[3]), row[4], bool(row[5]), row[6])

        return await self.db.run(head)

    async def ack(self, group: GroupKey, message_id: int) -> None:
        await self.db.run(lambda conn: _remove_delivery(conn, group, message_id))

    async def reschedule(
        self, group: GroupKey, message_id: int, attempts: int, next_at_ms: int, error: str
    ) -> None:
        def reschedule(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE deliveries SET attempts = ?, next_attempt_at_ms = ?, last_error = ? "
                "WHERE app_id = ? AND pubsub = ? AND topic = ? AND message_id = ?",
                (
                    attempts,
                    next_at_ms,
                    error[:2000],
                    group.app_id,
                    group.pubsub,
                    group.topic,
                    message_id,
                ),
            )

        await self.db.run(reschedule)

    async def dead_letter(
        self, group: GroupKey, pending: Pending, dead_letter_topic: str, now_ms: int
    ) -> list[GroupKey]:
        """Move a message to the dead-letter topic (same component) in one transaction."""

        def move(conn: sqlite3.Connection) -> list[GroupKey]:
            message = NewMessage(pending.body, pending.content_type, pending.is_raw)
            _, groups = _insert_messages(
                conn, group.pubsub, dead_letter_topic, group.app_id, [message], now_ms
            )
            _remove_delivery(conn, group, pending.message_id)
            return groups

        return await self.db.run(move)

    async def park(
        self, group: GroupKey, pending: Pending, attempts: int, reason: str, now_ms: int
    ) -> None:
        """Keep a message whose retries are exhausted and that has no dead-letter topic."""

        def park(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO undeliverable (app_id, pubsub, topic, message_id, body, content_type, "
                "is_raw, attempts, reason, failed_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    group.app_id,
                    group.pubsub,
                    group.topic,
                    pending.message_id,
                    pending.body,
                    pending.content_type,
                    int(pending.is_raw),
                    attempts,
                    reason[:2000],
                    now_ms,
                ),
            )
            _remove_delivery(conn, group, pending.message_id)

        await self.db.run(park)

    async def expire_unclaimed(self, now_ms: int, retention_ms: dict[str, int]) -> int:
        """End the unclaimed window of old messages; delete those nobody took."""

        def expire(conn: sqlite3.Connection) -> int:
            removed = 0
            for pubsub, retention in retention_ms.items():
                cutoff = now_ms - retention
                removed += conn.execute(
                    "DELETE FROM messages WHERE unclaimed = 1 AND pubsub = ? AND published_at_ms < ? "
                    "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = messages.id)",
                    (pubsub, cutoff),
                ).rowcount
                conn.execute(
                    "UPDATE messages SET unclaimed = 0 WHERE unclaimed = 1 AND pubsub = ? "
                    "AND published_at_ms < ?",
                    (pubsub, cutoff),
                )
            return removed

        return await self.db.run(expire)

    def depths(self) -> list[tuple[GroupKey, int]]:
        """Pending deliveries per group (for metrics; any thread)."""

        def query(conn: sqlite3.Connection) -> list[tuple[GroupKey, int]]:
            rows = conn.execute(
                "SELECT app_id, pubsub, topic, COUNT(*) FROM deliveries GROUP BY app_id, pubsub, topic"
            )
            return [(GroupKey(r[0], r[1], r[2]), r[3]) for r in rows]

        return self.db.read(query)

    def unclaimed_counts(self) -> list[tuple[str, str, int]]:
        def query(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
            rows = conn.execute(
                "SELECT pubsub, topic, COUNT(*) FROM messages WHERE unclaimed = 1 GROUP BY pubsub, topic"
            )
            return [(r[0], r[1], r[2]) for r in rows]

        return self.db.read(query)

    def undeliverable_count(self) -> int:
        def query(conn: sqlite3.Connection) -> int:
            count: int = conn.execute("SELECT COUNT(*) FROM undeliverable").fetchone()[0]
            return count

        return self.db.read(query)
