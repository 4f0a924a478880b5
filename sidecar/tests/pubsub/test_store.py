"""The SQLite pub/sub log (unit, on a temporary file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wfb_sidecar.pubsub.store import GroupKey, NewMessage, PubSubStore

pytestmark = pytest.mark.unit

A = GroupKey("a", "ps", "t")
B = GroupKey("b", "ps", "t")
HOUR = 3_600_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[PubSubStore]:
    s = PubSubStore(tmp_path / "pubsub.db")
    await s.open()
    yield s
    await s.close()


def msg(body: bytes) -> NewMessage:
    return NewMessage(body, "text/plain", True)


async def test_fan_out_to_known_groups_in_order(store: PubSubStore) -> None:
    await store.register(A, 0, HOUR)
    await store.register(B, 0, HOUR)
    ids, groups = await store.publish("ps", "t", "pub", [msg(b"1"), msg(b"2")], 10)
    assert sorted(groups) == [A, B]
    head = await store.head(A)
    assert head is not None and head.body == b"1"
    await store.ack(A, ids[0])
    head = await store.head(A)
    assert head is not None and head.body == b"2"
    assert dict(store.depths()) == {A: 1, B: 2}


async def test_messages_are_collected_once_every_group_is_done(store: PubSubStore) -> None:
    await store.register(A, 0, HOUR)
    await store.register(B, 0, HOUR)
    ids, _ = await store.publish("ps", "t", "pub", [msg(b"x")], 10)
    await store.ack(A, ids[0])

    def count() -> int:
        return store.db.read(lambda c: c.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    assert count() == 1
    await store.ack(B, ids[0])
    assert count() == 0


async def test_unclaimed_messages_go_to_every_group_that_appears_in_time(
    store: PubSubStore,
) -> None:
    await store.publish("ps", "t", "pub", [msg(b"early")], 1_000)
    assert store.unclaimed_counts() == [("ps", "t", 1)]
    assert await store.register(A, 2_000, HOUR) == 1
    assert await store.register(B, 3_000, HOUR) == 1
    assert await store.register(A, 4_000, HOUR) is None  # already known
    late = GroupKey("late", "ps", "t")
    assert await store.register(late, 1_000 + HOUR + 1, HOUR) == 0  # outside the window


async def test_expiry_of_the_unclaimed_window(store: PubSubStore) -> None:
    await store.publish("ps", "t", "pub", [msg(b"nobody")], 0)
    await store.publish("ps", "t2", "pub", [msg(b"taken")], 0)
    await store.register(GroupKey("a", "ps", "t2"), 1, HOUR)
    assert await store.expire_unclaimed(HOUR + 1, {"ps": HOUR}) == 1
    head = await store.head(GroupKey("a", "ps", "t2"))
    assert head is not None
    await store.ack(GroupKey("a", "ps", "t2"), head.message_id)
    assert store.db.read(lambda c: c.execute("SELECT COUNT(*) FROM messages").fetchone()[0]) == 0


async def test_dead_letter_and_park(store: PubSubStore) -> None:
    dead = GroupKey("a", "ps", "dead")
    await store.register(A, 0, HOUR)
    await store.register(dead, 0, HOUR)
    await store.publish("ps", "t", "pub", [msg(b"1"), msg(b"2")], 1)
    first = await store.head(A)
    assert first is not None
    assert await store.dead_letter(A, first, "dead", 2) == [dead]
    moved = await store.head(dead)
    assert moved is not None and moved.body == b"1"
    second = await store.head(A)
    assert second is not None and second.body == b"2"
    await store.park(A, second, 4, "gave up", 3)
    assert await store.head(A) is None
    assert store.undeliverable_count() == 1


async def test_reschedule_and_unregister(store: PubSubStore) -> None:
    await store.register(A, 0, HOUR)
    ids, _ = await store.publish("ps", "t", "pub", [msg(b"1")], 1)
    await store.reschedule(A, ids[0], 3, 999, "boom")
    head = await store.head(A)
    assert head is not None and (head.attempts, head.next_attempt_at_ms) == (3, 999)
    assert await store.unregister(A) == 1
    assert await store.groups() == []
    assert await store.head(A) is None


async def test_everything_survives_reopening(tmp_path: Path) -> None:
    first = PubSubStore(tmp_path / "p.db")
    await first.open()
    await first.register(A, 0, HOUR)
    await first.publish("ps", "t", "pub", [msg(b"kept")], 1)
    await first.close()
    second = PubSubStore(tmp_path / "p.db")
    await second.open()
    assert await second.groups() == [A]
    head = await second.head(A)
    assert head is not None and head.body == b"kept"
    await second.close()
