"""Writing execution events and projecting them onto the run/node view.

Every write is one transaction that first locks the run's row, so events of one run
get gap-free, ordered ``seq`` numbers (what SSE resumption relies on) even when parallel
activities record at once, and an event delivered twice (activities are at-least-once)
is stored once: its deterministic ``eid`` is checked under that lock.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from orchestrator.interpreter.contracts import EventRecord
from orchestrator.records.models import (
    ActivityResult,
    ExecutionEvent,
    Run,
    RunLabel,
    RunNode,
    RunSecret,
)
from service_kit.db import session_factory

OUTPUT_CAP_BYTES = 64 * 1024
SECRET_MARKERS = (
    "password",
    "secret",
    "token",
    "apikey",
    "api_key",
    "authorization",
    "credential",
    "privatekey",
    "private_key",
)
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def redact(value: Any) -> Any:
    """Replace values under secret-looking keys, recursively."""
    if isinstance(value, dict):
        return {
            k: "[redacted]"
            if isinstance(k, str) and any(m in k.lower().replace("-", "_") for m in SECRET_MARKERS)
            else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def scrub(value: Any, hidden: Sequence[str]) -> Any:
    """``value`` with every occurrence of a ``hidden`` string (longest first) replaced by
    ``[redacted]``, at any depth and under any key."""
    if not hidden:
        return value
    if isinstance(value, str):
        for secret in hidden:
            if secret in value:
                value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {k: scrub(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, hidden) for v in value]
    return value


def sanitize(value: Any, cap: int = OUTPUT_CAP_BYTES) -> Any:
    """Redact secrets and cap the size of a recorded input or output."""
    cleaned = redact(value)
    text = json.dumps(cleaned, default=str, ensure_ascii=False)
    if len(text.encode()) <= cap:
        return cleaned
    return {"_truncated": True, "sizeBytes": len(text.encode()), "preview": text[:2000]}


class Notifier:
    """Wakes SSE streams in this process when a run gets new events (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Callable[[], None]]] = {}

    def subscribe(self, instance_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.setdefault(instance_id, []).append(wake)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(instance_id, [])
                if wake in listeners:
                    listeners.remove(wake)
                if not listeners:
                    self._listeners.pop(instance_id, None)

        return unsubscribe

    def notify(self, instance_id: str) -> None:
        with self._lock:
            listeners = list(self._listeners.get(instance_id, ()))
        for wake in listeners:
            wake()


_RUNS = cast(Table, Run.__table__)
_NODES = cast(Table, RunNode.__table__)
_EVENTS = cast(Table, ExecutionEvent.__table__)
_LABELS = cast(Table, RunLabel.__table__)
_RESULTS = cast(Table, ActivityResult.__table__)
_SECRETS = cast(Table, RunSecret.__table__)
# The statements of the write path are built once: SQLAlchemy computes a cache key for
# every new statement object it runs, which costs more than the statement itself (about
# 180 us per ad-hoc statement against 60 for a prebuilt one, on this machine).
_IID: BindParameter[str] = bindparam("iid")
_PREVIOUS_RESULT = select(_RESULTS.c.result).where(
    _RESULTS.c.instance_id == _IID, _RESULTS.c.execution_key == bindparam("key")
)
_SEALED = select(_SECRETS.c.nonce, _SECRETS.c.ciphertext).where(_SECRETS.c.instance_id == _IID)
_PARENT = select(_RUNS.c.parent_instance_id).where(_RUNS.c.instance_id == _IID)
# ``=`` for one value (most batches name one event or one node): an expanding IN is
# rendered again on every execution.
_SEEN_ONE = select(_EVENTS.c.eid).where(
    _EVENTS.c.instance_id == _IID, _EVENTS.c.eid == bindparam("value")
)
_SEEN_MANY = select(_EVENTS.c.eid).where(
    _EVENTS.c.instance_id == _IID, _EVENTS.c.eid.in_(bindparam("values", expanding=True))
)
_NODES_ONE = select(_NODES).where(
    _NODES.c.instance_id == _IID, _NODES.c.node_key == bindparam("value")
)
_NODES_MANY = select(_NODES).where(
    _NODES.c.instance_id == _IID, _NODES.c.node_key.in_(bindparam("values", expanding=True))
)
_INSERT_RUN = insert(_RUNS)
_INSERT_EVENTS = insert(_EVENTS)
_INSERT_NODES = insert(_NODES)
_INSERT_LABELS = insert(_LABELS)


def _one_of(one: Any, many: Any, values: Collection[str]) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters for ``values`` (the run's ``iid`` is added by callers)."""
    if len(values) == 1:
        return one, {"value": next(iter(values))}
    return many, {"values": list(values)}


_RUN_FIELDS = (
    "runtime_status",
    "phase",
    "progress",
    "message",
    "error",
    "started_at",
    "completed_at",
    "workflow_id",
    "name",
    "labels",
    "project_id",
    "parent_instance_id",
    "definition",
)
_NODE_FIELDS = (
    "label",
    "node_type",
    "status",
    "attempts",
    "started_at",
    "completed_at",
    "input",
    "output",
    "error",
    "detail",
)
_LOCK_RUN = (
    update(_RUNS)
    .where(_RUNS.c.instance_id == _IID)
    .values(updated_at=bindparam("now"))
    .returning(_RUNS.c.event_seq, *(_RUNS.c[f] for f in _RUN_FIELDS))
)
_UPDATE_NODES = (
    update(_NODES)
    .where(_NODES.c.instance_id == bindparam("b_instance"), _NODES.c.node_key == bindparam("b_key"))
    .values({f: bindparam(f"v_{f}") for f in _NODE_FIELDS})
)
_DIALECT_INSERT: dict[str, Callable[[Table], Any]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
_IDEMPOTENT_INSERTS: dict[tuple[str, str], Any] = {}
_RUN_UPDATES: dict[frozenset[str], Any] = {}


def _insert_once(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table``, built once per dialect."""
    key = (conn.dialect.name, table.name)
    stmt = _IDEMPOTENT_INSERTS.get(key)
    if stmt is None:
        stmt = _DIALECT_INSERT[key[0]](table).on_conflict_do_nothing()
        _IDEMPOTENT_INSERTS[key] = stmt
    return stmt


def _update_run(fields: frozenset[str]) -> Any:
    """``UPDATE runs SET <fields>`` for one run, built once per set of fields."""
    stmt = _RUN_UPDATES.get(fields)
    if stmt is None:
        stmt = (
            update(_RUNS)
            .where(_RUNS.c.instance_id == _IID)
            .values({f: bindparam(f"v_{f}") for f in sorted(fields)})
        )
        _RUN_UPDATES[fields] = stmt
    return stmt


@dataclass(frozen=True)
class SealedSecret:
    """A run's encrypted credentials, and the run they were sealed for."""

    instance_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class ActionStart:
    attempt: int
    done: bool = False
    """An earlier delivery of this execution already finished: ``result`` is its result."""
    result: Any = None
    sealed: SealedSecret | None = None


class _Batch:
    """One write transaction's view of a run: its row, the node rows it touches, the
    events it adds. Projected in memory, written back with a handful of statements."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        self.run_changed: set[str] = set()
        self.nodes: dict[str, dict[str, Any]] = {}
        self.new_nodes: set[str] = set()
        self.changed_nodes: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.labels: dict[str, str] | None = None

    def set_run(self, field: str, value: Any) -> None:
        if self.run.get(field) != value:
            self.run[field] = value
            self.run_changed.add(field)


class RecordStore:
    """Writes execution events and keeps the run/node view in step (SQLAlchemy Core: a
    batch of events costs a fixed handful of statements, whatever its size)."""

    def __init__(self, engine: AsyncEngine, notifier: Notifier | None = None) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.notifier = notifier
        # SQLite has one writer at a time, and a connection that finds the file locked
        # sleeps in its busy handler (1, 2, 5, ... 100 ms): under load, most of a write's
        # latency. Queueing this store's writes here instead keeps them in arrival order
        # with no sleeping. (PostgreSQL locks the run's row; it needs none of this.)
        self._serialize = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        if not self._serialize:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    # --- runs ---------------------------------------------------------------------------

    async def create_run(
        self,
        *,
        instance_id: str,
        workflow_id: str,
        name: str,
        definition: dict[str, Any],
        trigger_data: Any,
        labels: dict[str, str],
        replay_of: str | None = None,
        rerun_of: str | None = None,
        rerun_from: str | None = None,
        finished: Sequence[EventRecord] = (),
        result: Any = None,
    ) -> None:
        """Insert the run's row and its ``run.scheduled`` event. An instant run also
        passes its whole record (``finished``) and ``result``: one transaction, so the run
        exists either finished or not at all."""
        now = utcnow()
        row: dict[str, Any] = {
            "instance_id": instance_id,
            "workflow_id": workflow_id,
            "name": name,
            "definition": definition,
            "trigger_data": trigger_data,
            "labels": labels,
            "project_id": labels.get("projectId"),
            "parent_instance_id": labels.get("parentInstanceId"),
            "runtime_status": "PENDING",
            "phase": "pending",
            "progress": 0,
            "message": None,
            "error": None,
            "started_at": None,
            "completed_at": None,
            "replay_of": replay_of,
            "rerun_of": rerun_of,
            "rerun_from": rerun_from,
            "created_at": now,
            "updated_at": now,
            "event_seq": 1,
            "result": result,
        }
        # A brand-new run: no lock, no dedupe, and the projection happens in memory,
        # so even an instant run's whole record is three INSERTs.
        batch = _Batch(row)
        batch.events.append(
            {
                "instance_id": instance_id,
                "seq": 1,
                "eid": f"api:{instance_id}:scheduled",
                "type": "run.scheduled",
                "node_key": None,
                "at": now,
                "data": {"workflowId": workflow_id, "labels": labels},
            }
        )
        self._stage(instance_id, batch, finished)
        async with self._transaction() as conn:
            await conn.execute(_INSERT_RUN, batch.run)
            if labels:
                await conn.execute(
                    _INSERT_LABELS,
                    [
                        {"instance_id": instance_id, "key": k, "value": str(v)}
                        for k, v in labels.items()
                    ],
                )
            await conn.execute(_INSERT_EVENTS, batch.events)
            if batch.new_nodes:
                await conn.execute(_INSERT_NODES, [batch.nodes[k] for k in sorted(batch.new_nodes)])
        self._notify(instance_id)

    async def delete_run(self, instance_id: str) -> None:
        async with self._transaction() as conn:
            for model in (ExecutionEvent, RunNode, RunLabel, ActivityResult, RunSecret):
                table = cast(Table, model.__table__)
                await conn.execute(delete(table).where(table.c.instance_id == instance_id))
            await conn.execute(delete(_RUNS).where(_RUNS.c.instance_id == instance_id))

    async def record(self, instance_id: str, events: Sequence[EventRecord]) -> int:
        """Append events (idempotently) and project them; returns how many were new."""
        if not events:
            return 0
        async with self._transaction() as conn:
            added = await self._append(conn, instance_id, events)
        if added:
            self._notify(instance_id)
        return added

    async def record_with_result(
        self, instance_id: str, events: Sequence[EventRecord], execution_key: str, result: Any
    ) -> None:
        """Append events and remember an activity's result, atomically."""
        async with self._transaction() as conn:
            await self._append(conn, instance_id, events)
            await conn.execute(
                _insert_once(conn, _RESULTS),
                {
                    "instance_id": instance_id,
                    "execution_key": execution_key,
                    "result": result,
                    "created_at": utcnow(),
                },
            )
        self._notify(instance_id)

    async def begin_attempt(
        self, instance_id: str, event: EventRecord, prelude: Sequence[EventRecord] = ()
    ) -> int:
        """Record ``prelude`` then ``node.started`` for an activity execution, atomically, and
        return its attempt number. A redelivered execution (same ``eid``) keeps the attempt
        number it had."""
        started = await self.begin_action(instance_id, None, event, prelude)
        return started.attempt

    async def begin_action(
        self,
        instance_id: str,
        execution_key: str | None,
        event: EventRecord,
        prelude: Sequence[EventRecord] = (),
        *,
        secrets: bool = False,
        hide: Callable[[SealedSecret | None], Sequence[str]] | None = None,
    ) -> ActionStart:
        """Everything an activity needs before its side effect, in one transaction: the
        result of an earlier delivery of the same execution (then nothing is written),
        else ``prelude`` and ``node.started`` recorded and the attempt number; and, with
        ``secrets``, the run's sealed credentials (a sub-workflow's are its root's), of
        which ``hide`` names the strings not to record."""
        node_key = event.node_key
        assert node_key is not None
        async with self._transaction() as conn:
            if execution_key is not None:
                previous = (
                    await conn.execute(_PREVIOUS_RESULT, {"iid": instance_id, "key": execution_key})
                ).first()
                if previous is not None:
                    return ActionStart(attempt=0, done=True, result=previous[0])
            batch = await self._lock(conn, instance_id)
            sealed = (
                await self._sealed(conn, instance_id, batch.run["parent_instance_id"])
                if secrets
                else None
            )
            hidden = hide(sealed) if hide is not None else ()
            if hidden:
                prelude = [e.model_copy(update={"data": scrub(e.data, hidden)}) for e in prelude]
                event = event.model_copy(update={"data": scrub(event.data, hidden)})
            await self._load(conn, instance_id, batch, [*prelude, event])
            seen = await self._seen(conn, instance_id, [e.eid for e in (*prelude, event)])
            node = batch.nodes.get(node_key)
            attempts = int(node["attempts"]) if node is not None else 0
            if event.eid in seen:
                attempt = max(attempts, 1)
                await self._apply(
                    conn, instance_id, batch, [e for e in prelude if e.eid not in seen]
                )
            else:
                attempt = attempts + 1
                event.data["attempt"] = attempt
                await self._apply(
                    conn, instance_id, batch, [e for e in (*prelude, event) if e.eid not in seen]
                )
        self._notify(instance_id)
        return ActionStart(attempt=attempt, sealed=sealed)

    async def _sealed(
        self, conn: AsyncConnection, instance_id: str, parent: str | None
    ) -> SealedSecret | None:
        """The run's sealed credentials, else its parent's, up the chain (``parent``: the
        run's parent, already read with its row)."""
        current: str | None = instance_id
        for depth in range(8):
            if current is None:
                return None
            row = (await conn.execute(_SEALED, {"iid": current})).first()
            if row is not None:
                return SealedSecret(current, bytes(row[0]), bytes(row[1]))
            current = (
                parent
                if depth == 0
                else (await conn.execute(_PARENT, {"iid": current})).scalar_one_or_none()
            )
        return None

    def _notify(self, instance_id: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(instance_id)

    # --- the write path -------------------------------------------------------------------

    async def _lock(self, conn: AsyncConnection, instance_id: str) -> _Batch:
        """Lock the run's row (creating a minimal one for runs not started by the API) and
        read it, in one statement when the row exists."""
        now = utcnow()
        params = {"iid": instance_id, "now": now}
        row = (await conn.execute(_LOCK_RUN, params)).first()
        if row is None:
            await conn.execute(
                _insert_once(conn, _RUNS),
                {
                    "instance_id": instance_id,
                    "workflow_id": "",
                    "name": "",
                    "labels": {},
                    "runtime_status": "PENDING",
                    "phase": "pending",
                    "progress": 0,
                    "created_at": now,
                    "updated_at": now,
                    "event_seq": 0,
                },
            )
            row = (await conn.execute(_LOCK_RUN, params)).first()
        assert row is not None
        return _Batch(dict(row._mapping))

    async def _seen(self, conn: AsyncConnection, instance_id: str, eids: list[str]) -> set[str]:
        stmt, params = _one_of(_SEEN_ONE, _SEEN_MANY, eids)
        rows = await conn.execute(stmt, {"iid": instance_id, **params})
        return set(rows.scalars())

    async def _load(
        self, conn: AsyncConnection, instance_id: str, batch: _Batch, events: Sequence[EventRecord]
    ) -> None:
        keys = {e.node_key for e in events if e.node_key} - set(batch.nodes)
        if not keys:
            return
        stmt, params = _one_of(_NODES_ONE, _NODES_MANY, keys)
        rows = await conn.execute(stmt, {"iid": instance_id, **params})
        for row in rows:
            batch.nodes[row.node_key] = dict(row._mapping)

    async def _append(
        self, conn: AsyncConnection, instance_id: str, events: Sequence[EventRecord]
    ) -> int:
        batch = await self._lock(conn, instance_id)
        seen = await self._seen(conn, instance_id, [e.eid for e in events])
        fresh: list[EventRecord] = []
        for event in events:
            if event.eid not in seen:
                seen.add(event.eid)
                fresh.append(event)
        if not fresh:
            return 0
        await self._load(conn, instance_id, batch, fresh)
        await self._apply(conn, instance_id, batch, fresh)
        return len(fresh)

    async def _apply(
        self, conn: AsyncConnection, instance_id: str, batch: _Batch, events: Sequence[EventRecord]
    ) -> None:
        if not events:
            return
        self._stage(instance_id, batch, events)
        await self._write(conn, instance_id, batch)

    def _stage(self, instance_id: str, batch: _Batch, events: Sequence[EventRecord]) -> None:
        """Number the events after the run's last one and project them onto the batch."""
        seq = int(batch.run["event_seq"])
        for event in events:
            seq += 1
            at = parse_time(event.at)
            data = sanitize({k: v for k, v in event.data.items() if k != "definition"})
            batch.events.append(
                {
                    "instance_id": instance_id,
                    "seq": seq,
                    "eid": event.eid,
                    "type": event.type,
                    "node_key": event.node_key,
                    "at": at,
                    "data": data,
                }
            )
            self._project(instance_id, batch, event, at, data, seq)
        batch.set_run("event_seq", seq)

    async def _write(self, conn: AsyncConnection, instance_id: str, batch: _Batch) -> None:
        """Write what ``_stage`` put in the batch (the run's row already exists)."""
        await conn.execute(_INSERT_EVENTS, batch.events)
        batch.events = []
        if batch.new_nodes:
            await conn.execute(_INSERT_NODES, [batch.nodes[k] for k in sorted(batch.new_nodes)])
        existing = batch.changed_nodes - batch.new_nodes
        if existing:
            await conn.execute(
                _UPDATE_NODES,
                [
                    {
                        "b_instance": instance_id,
                        "b_key": key,
                        **{f"v_{f}": batch.nodes[key][f] for f in _NODE_FIELDS},
                    }
                    for key in sorted(existing)
                ],
            )
        batch.new_nodes.clear()
        batch.changed_nodes.clear()
        if batch.labels:
            await conn.execute(
                _insert_once(conn, _LABELS),
                [
                    {"instance_id": instance_id, "key": k, "value": v}
                    for k, v in batch.labels.items()
                ],
            )
            batch.labels = None
        if batch.run_changed:
            await conn.execute(
                _update_run(frozenset(batch.run_changed)),
                {"iid": instance_id, **{f"v_{f}": batch.run[f] for f in batch.run_changed}},
            )
            batch.run_changed.clear()

    # --- the projection -----------------------------------------------------------------

    def _node(
        self, instance_id: str, batch: _Batch, event: EventRecord, seq: int
    ) -> dict[str, Any]:
        assert event.node_key is not None
        node = batch.nodes.get(event.node_key)
        if node is None:
            node = {
                "instance_id": instance_id,
                "node_key": event.node_key,
                "node_id": event.node_id or event.node_key,
                "label": str(event.data.get("label") or ""),
                "node_type": str(event.data.get("nodeType") or ""),
                "status": "pending",
                "attempts": 0,
                "started_at": None,
                "completed_at": None,
                "input": None,
                "output": None,
                "error": None,
                "detail": {},
                "order": seq,
            }
            batch.nodes[event.node_key] = node
            batch.new_nodes.add(event.node_key)
        batch.changed_nodes.add(event.node_key)
        return node

    def _project(
        self,
        instance_id: str,
        batch: _Batch,
        event: EventRecord,
        at: datetime,
        data: dict[str, Any],
        seq: int,
    ) -> None:
        kind = event.type
        if kind.startswith("run."):
            self._project_run(batch, kind, at, data)
            if kind == "run.started":
                self._adopt_labels(batch, {**data, "definition": event.data.get("definition")})
            return
        if event.node_key is None:
            return
        node = self._node(instance_id, batch, event, seq)
        if data.get("label") and not node["label"]:
            node["label"] = str(data["label"])
        if data.get("nodeType") and not node["node_type"]:
            node["node_type"] = str(data["nodeType"])
        detail = copy.deepcopy(node["detail"] or {})
        if kind == "node.started":
            node["status"] = "running"
            node["attempts"] = max(
                int(node["attempts"]), int(data.get("attempt", node["attempts"] + 1))
            )
            node["started_at"] = node["started_at"] or at
            if "input" in data:
                node["input"] = data["input"]
            if data.get("childInstanceId"):
                detail["childInstanceId"] = data["childInstanceId"]
        elif kind == "node.retrying":
            node["attempts"] = max(
                int(node["attempts"]), int(data.get("attempt", node["attempts"]))
            )
            node["error"] = data.get("error")
            detail.setdefault("attemptErrors", []).append(
                {"attempt": data.get("attempt"), "error": data.get("error"), "at": at.isoformat()}
            )
        elif kind == "node.completed":
            node["status"] = "completed"
            node["output"] = data.get("output")
            node["error"] = None
            node["completed_at"] = at
            node["started_at"] = node["started_at"] or at
            if data.get("route"):
                detail["route"] = data["route"]
            if data.get("reused"):
                detail["reused"] = True
        elif kind == "node.failed":
            node["status"] = "failed"
            node["error"] = data.get("error")
            node["completed_at"] = at
            node["started_at"] = node["started_at"] or at
            if data.get("continued"):
                detail["continued"] = True
        elif kind == "node.skipped":
            node["status"] = "skipped"
            detail["reason"] = data.get("reason")
        elif kind == "approval.requested":
            node["status"] = "waiting"
            node["started_at"] = node["started_at"] or at
            detail["approval"] = {
                k: data.get(k) for k in ("eventName", "message", "expiresAt", "approvers")
            }
        elif kind in ("approval.answered", "approval.timed_out"):
            approval = dict(detail.get("approval") or {})
            approval["answer"] = {k: v for k, v in data.items() if k not in ("label", "nodeType")}
            detail["approval"] = approval
        elif kind == "approval.invalid":
            detail.setdefault("invalidResponses", []).append(data.get("error"))
        elif kind == "timer.started":
            node["status"] = "waiting"
            node["started_at"] = node["started_at"] or at
            detail["fireAt"] = data.get("fireAt")
        elif kind == "node.compensated":
            node["status"] = "compensated"
            detail["compensation"] = {
                "status": "completed",
                "at": at.isoformat(),
                "action": data.get("action"),
                "output": data.get("output"),
            }
        elif kind == "node.compensation_failed":
            detail["compensation"] = {
                "status": "failed",
                "at": at.isoformat(),
                "error": data.get("error"),
            }
        node["detail"] = detail

    @staticmethod
    def _project_run(batch: _Batch, kind: str, at: datetime, data: dict[str, Any]) -> None:
        terminal = batch.run["runtime_status"] in TERMINAL_STATUSES
        if kind == "run.started":
            if not terminal:
                batch.set_run("runtime_status", "RUNNING")
                batch.set_run("phase", "running")
            batch.set_run("started_at", batch.run["started_at"] or at)
        elif kind in ("run.completed", "run.failed"):
            batch.set_run("runtime_status", "COMPLETED" if kind == "run.completed" else "FAILED")
            batch.set_run(
                "phase",
                str(data.get("phase") or ("completed" if kind == "run.completed" else "failed")),
            )
            batch.set_run("message", data.get("message"))
            batch.set_run("error", data.get("error"))
            batch.set_run("completed_at", at)
            batch.set_run("progress", 100)
        elif kind == "run.terminated":
            if not terminal:
                batch.set_run("runtime_status", "TERMINATED")
                batch.set_run("phase", "cancelled")
                batch.set_run("message", data.get("reason"))
                batch.set_run("completed_at", at)
        elif kind == "run.suspended":
            if not terminal:
                batch.set_run("runtime_status", "SUSPENDED")
        elif kind == "run.resumed" and batch.run["runtime_status"] == "SUSPENDED":
            batch.set_run("runtime_status", "RUNNING")

    @staticmethod
    def _adopt_labels(batch: _Batch, data: dict[str, Any]) -> None:
        """Runs started by the workflow itself (sub-workflows) fill their row here."""
        if batch.run["workflow_id"]:
            return
        labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
        batch.set_run("workflow_id", str(data.get("workflowId") or ""))
        batch.set_run("name", str(data.get("name") or ""))
        if isinstance(data.get("definition"), dict):
            batch.set_run("definition", data["definition"])
        batch.set_run("labels", labels)
        batch.set_run("project_id", labels.get("projectId"))
        batch.set_run("parent_instance_id", labels.get("parentInstanceId"))
        batch.labels = labels or None
