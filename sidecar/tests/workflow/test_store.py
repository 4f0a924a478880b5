"""The SQLite store: group commit, schema migrations and the operations' SQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from wfb_sidecar.workflow import ops
from wfb_sidecar.workflow.model import AlreadyExistsError, TurnData
from wfb_sidecar.workflow.protos import (
    PENDING,
    TERMINATED,
    now_us,
    pb,
    us_to_ts,
)
from wfb_sidecar.workflow.store import SCHEMA, Store, StoreInUseError, migrate
from wfb_sidecar.workflow.tx import Tx

pytestmark = pytest.mark.unit


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "wf.db")
    s.open(asyncio.get_running_loop())
    yield s
    await s.close()


def start_request(iid: str, **kw: object) -> pb.CreateInstanceRequest:
    return pb.CreateInstanceRequest(instanceId=iid, name="wf", **kw)  # type: ignore[arg-type]


async def start(store: Store, iid: str, **kw: object) -> None:
    await store.write(
        partial(ops.start_instance, app_id="app", req=start_request(iid, **kw), now=now_us())
    )


class TestGroupCommit:
    async def test_concurrent_writes_share_commits_and_all_land(self, store: Store) -> None:
        await asyncio.gather(*(start(store, f"i{n}") for n in range(200)))
        count = await store.read(
            lambda c: c.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
        )
        assert count == 200

    async def test_a_failing_operation_leaves_the_rest_of_its_batch_alone(
        self, store: Store
    ) -> None:
        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO inbox (app_id, instance_id, execution_id, event) "
                "VALUES ('app', 'ghost', NULL, x'00')"
            )
            raise AlreadyExistsError("boom")

        results = await asyncio.gather(
            start(store, "a"),
            store.write(half_then_fail),
            start(store, "b"),
            return_exceptions=True,
        )
        assert isinstance(results[1], AlreadyExistsError)
        assert results[0] is None and results[2] is None
        rows = await store.read(
            lambda c: c.execute("SELECT instance_id FROM inbox ORDER BY id").fetchall()
        )
        assert [r[0] for r in rows] == ["a", "b"]  # the failed op's write was rolled back

    async def test_writes_survive_reopening(self, tmp_path: Path) -> None:
        path = tmp_path / "wf.db"
        first = Store(path)
        first.open(asyncio.get_running_loop())
        await start(first, "kept")
        await first.close()
        second = Store(path)
        second.open(asyncio.get_running_loop())
        row = await second.read(partial(ops.get_instance, key=("app", "kept")))
        await second.close()
        assert row is not None and row.status == PENDING

    async def test_a_second_backend_on_the_same_database_is_refused(self, store: Store) -> None:
        other = Store(store.path)
        with pytest.raises(StoreInUseError, match="already using"):
            other.open(asyncio.get_running_loop())

    async def test_closed_store_refuses_work(self, tmp_path: Path) -> None:
        s = Store(tmp_path / "wf.db")
        s.open(asyncio.get_running_loop())
        await s.close()
        with pytest.raises(RuntimeError, match="closed"):
            await start(s, "late")


class TestSchema:
    def test_migrations_are_recorded_and_idempotent(self, tmp_path: Path) -> None:
        conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        assert migrate(conn) == len(SCHEMA)
        assert migrate(conn) == len(SCHEMA)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)

    def test_a_newer_schema_is_refused(self, tmp_path: Path) -> None:
        conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
        conn.execute(f"PRAGMA user_version={len(SCHEMA) + 1}")
        with pytest.raises(RuntimeError, match="newer"):
            migrate(conn)

    async def test_wal_mode_and_full_sync(self, store: Store) -> None:
        mode = await store.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
        sync = await store.read(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert mode == "wal"
        assert sync == 2  # FULL


class TestInstances:
    async def test_running_duplicate_is_refused_and_finished_id_reused(self, store: Store) -> None:
        await start(store, "dup")
        with pytest.raises(AlreadyExistsError):
            await start(store, "dup")
        await store.write(
            partial(
                ops.terminate,
                key=("app", "dup"),
                output=None,
                recursive=False,
                now=now_us(),
                may_finish_directly=True,
            )
        )
        row = await store.read(partial(ops.get_instance, key=("app", "dup")))
        assert row is not None and row.status == TERMINATED
        await start(store, "dup")
        row = await store.read(partial(ops.get_instance, key=("app", "dup")))
        assert row is not None and row.status == PENDING and row.history_len == 0

    async def test_scheduled_start_waits_in_the_timer_table(self, store: Store) -> None:
        later = now_us() + 3_600_000_000
        await start(store, "later", scheduledStartTimestamp=us_to_ts(later))
        due = await store.read(ops.next_timer_due)
        assert due == later
        turn = await store.read(
            partial(ops.load_turn, key=("app", "later"), warm=None, now=now_us())
        )
        assert turn is None  # nothing in the inbox yet

    async def test_events_for_an_unstarted_run_wait_for_its_start(self, store: Store) -> None:
        later = now_us() + 3_600_000_000
        await start(store, "early", scheduledStartTimestamp=us_to_ts(later))
        await store.write(
            partial(
                ops.raise_event,
                key=("app", "early"),
                name="e",
                data=pb.RaiseEventRequest(),
                now=now_us(),
            )
        )
        turn = await store.read(
            partial(ops.load_turn, key=("app", "early"), warm=None, now=now_us())
        )
        assert turn == ops.NOT_STARTABLE
        effects, _ = await store.write(partial(ops.fire_timers, now=later + 1, limit=10))
        assert ("app", "early") in effects.ready
        turn = await store.read(
            partial(ops.load_turn, key=("app", "early"), warm=None, now=later + 2)
        )
        assert isinstance(turn, TurnData)
        kinds = [e.WhichOneof("eventType") for e in turn.new_events]
        assert kinds == ["workflowStarted", "executionStarted", "eventRaised"]

    async def test_results_of_an_ended_execution_are_not_delivered(self, store: Store) -> None:
        await start(store, "exec")

        def stale(conn: sqlite3.Connection) -> None:
            tx = Tx(conn, now_us())
            tx.add_inbox(
                ("app", "exec"),
                pb.HistoryEvent(eventId=-1, taskCompleted=pb.TaskCompletedEvent(taskScheduledId=1)),
                "an-old-execution",
            )

        await store.write(stale)
        turn = await store.read(
            partial(ops.load_turn, key=("app", "exec"), warm=None, now=now_us())
        )
        assert isinstance(turn, TurnData)
        kinds = [e.WhichOneof("eventType") for e in turn.new_events]
        assert kinds == ["workflowStarted", "executionStarted"]

    async def test_task_ids_are_never_reused(self, store: Store) -> None:
        # The scheduler tracks running activities by task id; a reused id could let a
        # late result of one activity cancel or complete another.
        def add_and_remove(conn: sqlite3.Connection) -> int:
            tx = Tx(conn, now_us())
            tx.add_task("app", ("app", "i"), "e", 1, "x", pb.ActivityRequest(name="a"))
            row_id = tx.effects.activities[0].row_id
            conn.execute("DELETE FROM tasks WHERE id = ?", (row_id,))
            return row_id

        first = await store.write(add_and_remove)
        second = await store.write(add_and_remove)
        assert second > first

    async def test_list_pages_are_ordered_and_complete(self, store: Store) -> None:
        for n in range(7):
            await start(store, f"id-{n}")
        seen: list[str] = []
        token = None
        while True:
            ids, token = await store.read(
                partial(ops.list_instance_ids, app_id="app", after=token, limit=3)
            )
            seen += ids
            if token is None:
                break
        assert seen == [f"id-{n}" for n in range(7)]

    async def test_apps_are_partitioned(self, store: Store) -> None:
        await start(store, "shared-id")
        await store.write(
            partial(
                ops.start_instance,
                app_id="other-app",
                req=start_request("shared-id"),
                now=now_us(),
            )
        )
        ids, _ = await store.read(
            partial(ops.list_instance_ids, app_id="other-app", after=None, limit=10)
        )
        assert ids == ["shared-id"]
        assert await store.read(partial(ops.get_instance, key=("nobody", "shared-id"))) is None
