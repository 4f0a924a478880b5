"""Execution records: idempotent, ordered events and the run/node view they build."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.interpreter.contracts import EventRecord
from orchestrator.records.models import ExecutionEvent, Run, RunNode, RunSecret
from orchestrator.records.store import Notifier, RecordStore, SealedSecret, sanitize

pytestmark = pytest.mark.integration


def ev(eid: str, kind: str, node: str | None = None, **data: Any) -> EventRecord:
    return EventRecord(
        eid=eid, type=kind, node_key=node, node_id=node, at="2026-01-01T10:00:00+00:00", data=data
    )


async def make_run(store: RecordStore, instance_id: str = "r1") -> None:
    await store.create_run(
        instance_id=instance_id,
        workflow_id="wf",
        name="WF",
        definition={"id": "wf", "nodes": []},
        trigger_data={"password": "p", "x": 1},
        labels={"projectId": "p1", "workflowId": "w1"},
    )


async def events(
    sessions: async_sessionmaker[AsyncSession], instance_id: str = "r1"
) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(ExecutionEvent.seq, ExecutionEvent.type)
            .where(ExecutionEvent.instance_id == instance_id)
            .order_by(ExecutionEvent.seq)
        )
        return [(seq, kind) for seq, kind in rows]


class TestEvents:
    async def test_redelivered_events_are_stored_once(self, sessions: Any, engine: Any) -> None:
        store = RecordStore(engine)
        await make_run(store)
        batch = [
            ev("e1", "node.started", "a", attempt=1),
            ev("e2", "node.completed", "a", output={"v": 1}),
        ]
        assert await store.record("r1", batch) == 2
        assert await store.record("r1", batch) == 0
        assert await events(sessions) == [
            (1, "run.scheduled"),
            (2, "node.started"),
            (3, "node.completed"),
        ]

    async def test_concurrent_writers_get_gap_free_ordered_seqs(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        await make_run(store)
        await asyncio.gather(
            *(store.record("r1", [ev(f"e{i}", "node.started", f"n{i}")]) for i in range(25))
        )
        seqs = [seq for seq, _ in await events(sessions)]
        assert seqs == list(range(1, 27))

    async def test_events_for_unknown_runs_create_a_row(self, sessions: Any, engine: Any) -> None:
        store = RecordStore(engine)
        await store.record(
            "child",
            [
                ev(
                    "s",
                    "run.started",
                    workflowId="sub",
                    name="Sub",
                    labels={"projectId": "p1", "parentInstanceId": "r1"},
                    definition={"id": "sub"},
                )
            ],
        )
        async with sessions() as session:
            run = await session.get(Run, "child")
        assert run is not None and run.workflow_id == "sub" and run.parent_instance_id == "r1"
        assert (
            run.project_id == "p1"
            and run.definition == {"id": "sub"}
            and run.runtime_status == "RUNNING"
        )

    async def test_notifier_wakes_listeners(self, sessions: Any, engine: Any) -> None:
        notifier = Notifier()
        woken: list[str] = []
        unsubscribe = notifier.subscribe("r1", lambda: woken.append("x"))
        store = RecordStore(engine, notifier)
        await make_run(store)
        unsubscribe()
        await store.record("r1", [ev("e1", "node.started", "a")])
        assert woken == ["x"]


class TestProjection:
    async def test_node_lifecycle(self, sessions: Any, engine: Any) -> None:
        store = RecordStore(engine)
        await make_run(store)
        await store.record("r1", [ev("1", "run.started")])
        await store.record(
            "r1",
            [
                ev(
                    "2",
                    "node.started",
                    "a",
                    attempt=1,
                    input={"apiKey": "sk-1", "q": 1},
                    label="A",
                    nodeType="action",
                )
            ],
        )
        await store.record("r1", [ev("3", "node.retrying", "a", attempt=1, error="503")])
        await store.record("r1", [ev("4", "node.started", "a", attempt=2)])
        await store.record("r1", [ev("5", "node.completed", "a", output={"ok": True})])
        await store.record("r1", [ev("6", "node.skipped", "b", reason="branch not taken")])
        await store.record("r1", [ev("7", "run.completed", phase="completed")])
        async with sessions() as session:
            a = await session.get(RunNode, ("r1", "a"))
            b = await session.get(RunNode, ("r1", "b"))
            run = await session.get(Run, "r1")
        assert a is not None and b is not None and run is not None
        assert (a.status, a.attempts, a.label, a.node_type) == ("completed", 2, "A", "action")
        assert a.input == {"apiKey": "[redacted]", "q": 1}
        assert a.output == {"ok": True} and a.error is None
        assert a.detail["attemptErrors"][0]["error"] == "503"
        assert (b.status, b.detail["reason"]) == ("skipped", "branch not taken")
        assert (run.runtime_status, run.phase, run.progress) == ("COMPLETED", "completed", 100)
        assert run.trigger_data == {
            "password": "p",
            "x": 1,
        }  # kept raw for replay; redacted on display

    async def test_begin_attempt_numbers_attempts_and_survives_redelivery(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        await make_run(store)
        first = await store.begin_attempt("r1", ev("x:1:started", "node.started", "a"))
        again = await store.begin_attempt("r1", ev("x:1:started", "node.started", "a"))
        second = await store.begin_attempt("r1", ev("x:2:started", "node.started", "a"))
        assert (first, again, second) == (1, 1, 2)

    async def test_terminal_status_is_not_overwritten_by_late_events(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        await make_run(store)
        await store.record("r1", [ev("t", "run.terminated", reason="stop")])
        await store.record("r1", [ev("s", "run.started"), ev("p", "run.suspended")])
        async with sessions() as session:
            run = await session.get(Run, "r1")
        assert run is not None and run.runtime_status == "TERMINATED" and run.phase == "cancelled"

    async def test_a_finished_execution_is_not_begun_again(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        await make_run(store)
        first = await store.begin_action("r1", "k", ev("k:started", "node.started", "a"))
        assert (first.attempt, first.done) == (1, False)
        await store.record_with_result(
            "r1", [ev("k:completed", "node.completed", "a", output=1)], "k", {"success": True}
        )
        before = await events(sessions)
        again = await store.begin_action("r1", "k", ev("k:started", "node.started", "a"))
        assert again.done and again.result == {"success": True}
        assert await events(sessions) == before

    async def test_credentials_are_found_up_the_parent_chain(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        await make_run(store, "root")
        for child, parent in (("child", "root"), ("grandchild", "child")):
            await store.create_run(
                instance_id=child,
                workflow_id="wf",
                name="WF",
                definition={},
                trigger_data=None,
                labels={"parentInstanceId": parent},
            )
        async with sessions() as session, session.begin():
            session.add(RunSecret(instance_id="root", key_id="k1", nonce=b"n", ciphertext=b"c"))
        found = await store.begin_action(
            "grandchild", "g", ev("g:started", "node.started", "a"), secrets=True
        )
        assert found.sealed == SealedSecret("root", b"n", b"c")
        await make_run(store, "alone")
        none = await store.begin_action(
            "alone", "x", ev("x:started", "node.started", "a"), secrets=True
        )
        assert none.sealed is None

    async def test_a_run_created_finished_reads_like_one_recorded_step_by_step(
        self, sessions: Any, engine: Any
    ) -> None:
        store = RecordStore(engine)
        steps = [
            ev("s", "run.started"),
            ev("n1", "node.started", "a", input={"token": "t"}, label="A", nodeType="action"),
            ev("n2", "node.completed", "a", output={"v": 1}),
            ev("n3", "node.skipped", "b", reason="branch not taken"),
            ev("f", "run.completed", phase="completed"),
        ]
        await make_run(store, "stepwise")
        await store.record("stepwise", steps)
        await store.create_run(
            instance_id="at-once",
            workflow_id="wf",
            name="WF",
            definition={"id": "wf", "nodes": []},
            trigger_data={"password": "p", "x": 1},
            labels={"projectId": "p1", "workflowId": "w1"},
            finished=steps,
            result={"v": 1},
        )
        assert await events(sessions, "at-once") == await events(sessions, "stepwise")
        fields = ("node_key", "status", "attempts", "input", "output", "detail", "label")
        async with sessions() as session:
            runs = {r.instance_id: r for r in (await session.execute(select(Run))).scalars()}
            nodes = {
                iid: [
                    tuple(getattr(n, f) for f in fields)
                    for n in (
                        await session.execute(
                            select(RunNode)
                            .where(RunNode.instance_id == iid)
                            .order_by(RunNode.node_key)
                        )
                    ).scalars()
                ]
                for iid in ("stepwise", "at-once")
            }
        assert nodes["at-once"] == nodes["stepwise"]
        assert nodes["at-once"][0][3] == {"token": "[redacted]"}
        for field in ("runtime_status", "phase", "progress", "event_seq", "project_id"):
            assert getattr(runs["at-once"], field) == getattr(runs["stepwise"], field)
        assert runs["at-once"].runtime_status == "COMPLETED"
        assert runs["at-once"].result == {"v": 1} and runs["stepwise"].result is None

    async def test_delete_run_removes_everything(self, sessions: Any, engine: Any) -> None:
        store = RecordStore(engine)
        await make_run(store)
        await store.record("r1", [ev("1", "node.started", "a")])
        await store.delete_run("r1")
        assert await events(sessions) == []
        async with sessions() as session:
            assert await session.get(Run, "r1") is None


def test_sanitize_redacts_nested_secrets_and_caps_size() -> None:
    value = {
        "headers": {"Authorization": "Bearer x", "X-Api-Key": "k"},
        "list": [{"client_secret": "s"}],
        "ok": 1,
    }
    assert sanitize(value) == {
        "headers": {"Authorization": "[redacted]", "X-Api-Key": "[redacted]"},
        "list": [{"client_secret": "[redacted]"}],
        "ok": 1,
    }
    big = sanitize({"blob": "x" * 100_000})
    assert big["_truncated"] is True and big["sizeBytes"] > 100_000
