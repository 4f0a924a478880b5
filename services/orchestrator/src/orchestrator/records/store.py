"""Writing execution events and projecting them onto the run/node view.

Every write is one transaction that first locks the run's row, so events of one run
get gap-free, ordered ``seq`` numbers (what SSE resumption relies on) even when parallel
activities record at once, and an event delivered twice (activities are at-least-once)
is stored once: its deterministic ``eid`` is checked under that lock.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.interpreter.contracts import EventRecord
from orchestrator.records.models import ActivityResult, ExecutionEvent, Run, RunLabel, RunNode

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


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


class RecordStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], notifier: Notifier | None = None
    ) -> None:
        self.sessions = sessions
        self.notifier = notifier

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
    ) -> None:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            session.add(
                Run(
                    instance_id=instance_id,
                    workflow_id=workflow_id,
                    name=name,
                    definition=definition,
                    trigger_data=trigger_data,
                    labels=labels,
                    project_id=labels.get("projectId"),
                    parent_instance_id=labels.get("parentInstanceId"),
                    runtime_status="PENDING",
                    phase="pending",
                    replay_of=replay_of,
                    rerun_of=rerun_of,
                    rerun_from=rerun_from,
                    created_at=now,
                    updated_at=now,
                    event_seq=0,
                )
            )
            for key, value in labels.items():
                session.add(RunLabel(instance_id=instance_id, key=key, value=str(value)))
            await session.flush()
            await self._append(
                session,
                instance_id,
                [
                    EventRecord(
                        eid=f"api:{instance_id}:scheduled",
                        type="run.scheduled",
                        at=now.isoformat(),
                        data={"workflowId": workflow_id, "labels": labels},
                    )
                ],
            )
        self._notify(instance_id)

    async def delete_run(self, instance_id: str) -> None:
        from sqlalchemy import delete

        from orchestrator.records.models import RunSecret

        async with self.sessions() as session, session.begin():
            for model in (ExecutionEvent, RunNode, RunLabel, ActivityResult, RunSecret):
                await session.execute(delete(model).where(model.instance_id == instance_id))
            await session.execute(delete(Run).where(Run.instance_id == instance_id))

    async def record(self, instance_id: str, events: Sequence[EventRecord]) -> int:
        """Append events (idempotently) and project them; returns how many were new."""
        if not events:
            return 0
        async with self.sessions() as session, session.begin():
            added = await self._append(session, instance_id, events)
        if added:
            self._notify(instance_id)
        return added

    async def record_with_result(
        self, instance_id: str, events: Sequence[EventRecord], execution_key: str, result: Any
    ) -> None:
        """Append events and remember an activity's result, atomically."""
        async with self.sessions() as session, session.begin():
            await self._append(session, instance_id, events)
            stmt = _insert(session, ActivityResult).values(
                instance_id=instance_id,
                execution_key=execution_key,
                result=result,
                created_at=utcnow(),
            )
            await session.execute(stmt.on_conflict_do_nothing())
        self._notify(instance_id)

    async def activity_result(self, instance_id: str, execution_key: str) -> tuple[bool, Any]:
        async with self.sessions() as session:
            row = await session.get(ActivityResult, (instance_id, execution_key))
            return (row is not None, row.result if row is not None else None)

    async def begin_attempt(
        self, instance_id: str, event: EventRecord, prelude: Sequence[EventRecord] = ()
    ) -> int:
        """Record ``prelude`` then ``node.started`` for an activity execution, atomically, and
        return its attempt number. A redelivered execution (same ``eid``) keeps the attempt
        number it had."""
        assert event.node_key is not None
        async with self.sessions() as session, session.begin():
            await self._lock_run(session, instance_id)
            if prelude:
                await self._append(session, instance_id, prelude)
            node = await session.get(RunNode, (instance_id, event.node_key))
            attempts = node.attempts if node is not None else 0
            exists = (
                await session.execute(
                    select(ExecutionEvent.id).where(
                        ExecutionEvent.instance_id == instance_id, ExecutionEvent.eid == event.eid
                    )
                )
            ).first()
            if exists is not None:
                return max(attempts, 1)
            event.data["attempt"] = attempts + 1
            await self._append(session, instance_id, [event])
        self._notify(instance_id)
        return attempts + 1

    def _notify(self, instance_id: str) -> None:
        if self.notifier is not None:
            self.notifier.notify(instance_id)

    async def _lock_run(self, session: AsyncSession, instance_id: str) -> Run:
        """Lock the run's row (creating a minimal one for runs not started by the API)."""
        now = utcnow()
        stmt = _insert(session, Run).values(
            instance_id=instance_id,
            workflow_id="",
            name="",
            labels={},
            runtime_status="PENDING",
            phase="pending",
            progress=0,
            created_at=now,
            updated_at=now,
            event_seq=0,
        )
        await session.execute(stmt.on_conflict_do_nothing())
        await session.execute(
            update(Run).where(Run.instance_id == instance_id).values(updated_at=now)
        )
        run = await session.get(Run, instance_id, with_for_update=True, populate_existing=True)
        assert run is not None
        return run

    async def _append(
        self, session: AsyncSession, instance_id: str, events: Iterable[EventRecord]
    ) -> int:
        run = await self._lock_run(session, instance_id)
        events = list(events)
        eids = [e.eid for e in events]
        seen = set(
            (
                await session.execute(
                    select(ExecutionEvent.eid).where(
                        ExecutionEvent.instance_id == instance_id, ExecutionEvent.eid.in_(eids)
                    )
                )
            ).scalars()
        )
        added = 0
        for event in events:
            if event.eid in seen:
                continue
            seen.add(event.eid)
            run.event_seq += 1
            at = parse_time(event.at)
            data = sanitize({k: v for k, v in event.data.items() if k != "definition"})
            session.add(
                ExecutionEvent(
                    instance_id=instance_id,
                    seq=run.event_seq,
                    eid=event.eid,
                    type=event.type,
                    node_key=event.node_key,
                    at=at,
                    data=data,
                )
            )
            await self._project(session, run, event, at, data)
            added += 1
        return added

    # --- the projection -----------------------------------------------------------------

    async def _node(self, session: AsyncSession, run: Run, event: EventRecord) -> RunNode:
        assert event.node_key is not None
        node = await session.get(RunNode, (run.instance_id, event.node_key))
        if node is None:
            node = RunNode(
                instance_id=run.instance_id,
                node_key=event.node_key,
                node_id=event.node_id or event.node_key,
                label=str(event.data.get("label") or ""),
                node_type=str(event.data.get("nodeType") or ""),
                status="pending",
                attempts=0,
                detail={},
                order=run.event_seq,
            )
            session.add(node)
        return node

    async def _project(
        self,
        session: AsyncSession,
        run: Run,
        event: EventRecord,
        at: datetime,
        data: dict[str, Any],
    ) -> None:
        kind = event.type
        if kind.startswith("run."):
            self._project_run(run, kind, at, data)
            if kind == "run.started":
                await self._adopt_labels(
                    session, run, {**data, "definition": event.data.get("definition")}
                )
            return
        if event.node_key is None:
            return
        node = await self._node(session, run, event)
        if data.get("label") and not node.label:
            node.label = str(data["label"])
        if data.get("nodeType") and not node.node_type:
            node.node_type = str(data["nodeType"])
        detail = copy.deepcopy(node.detail or {})
        if kind == "node.started":
            node.status = "running"
            node.attempts = max(node.attempts, int(data.get("attempt", node.attempts + 1)))
            node.started_at = node.started_at or at
            if "input" in data:
                node.input = data["input"]
            if data.get("childInstanceId"):
                detail["childInstanceId"] = data["childInstanceId"]
        elif kind == "node.retrying":
            node.attempts = max(node.attempts, int(data.get("attempt", node.attempts)))
            node.error = data.get("error")
            detail.setdefault("attemptErrors", []).append(
                {"attempt": data.get("attempt"), "error": data.get("error"), "at": at.isoformat()}
            )
        elif kind == "node.completed":
            node.status = "completed"
            node.output = data.get("output")
            node.error = None
            node.completed_at = at
            node.started_at = node.started_at or at
            if data.get("route"):
                detail["route"] = data["route"]
            if data.get("reused"):
                detail["reused"] = True
        elif kind == "node.failed":
            node.status = "failed"
            node.error = data.get("error")
            node.completed_at = at
            node.started_at = node.started_at or at
            if data.get("continued"):
                detail["continued"] = True
        elif kind == "node.skipped":
            node.status = "skipped"
            detail["reason"] = data.get("reason")
        elif kind == "approval.requested":
            node.status = "waiting"
            node.started_at = node.started_at or at
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
            node.status = "waiting"
            node.started_at = node.started_at or at
            detail["fireAt"] = data.get("fireAt")
        elif kind == "node.compensated":
            node.status = "compensated"
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
        node.detail = detail

    @staticmethod
    def _project_run(run: Run, kind: str, at: datetime, data: dict[str, Any]) -> None:
        if kind == "run.started":
            if run.runtime_status not in TERMINAL_STATUSES:
                run.runtime_status = "RUNNING"
                run.phase = "running"
            run.started_at = run.started_at or at
        elif kind in ("run.completed", "run.failed"):
            run.runtime_status = "COMPLETED" if kind == "run.completed" else "FAILED"
            run.phase = str(
                data.get("phase") or ("completed" if kind == "run.completed" else "failed")
            )
            run.message = data.get("message")
            run.error = data.get("error")
            run.completed_at = at
            run.progress = 100
        elif kind == "run.terminated":
            if run.runtime_status not in TERMINAL_STATUSES:
                run.runtime_status = "TERMINATED"
                run.phase = "cancelled"
                run.message = data.get("reason")
                run.completed_at = at
        elif kind == "run.suspended":
            if run.runtime_status not in TERMINAL_STATUSES:
                run.runtime_status = "SUSPENDED"
        elif kind == "run.resumed" and run.runtime_status == "SUSPENDED":
            run.runtime_status = "RUNNING"

    async def _adopt_labels(self, session: AsyncSession, run: Run, data: dict[str, Any]) -> None:
        """Runs started by the workflow itself (sub-workflows) fill their row here."""
        if run.workflow_id:
            return
        run.workflow_id = str(data.get("workflowId") or "")
        run.name = str(data.get("name") or "")
        if isinstance(data.get("definition"), dict):
            run.definition = data["definition"]
        labels = {str(k): str(v) for k, v in (data.get("labels") or {}).items()}
        run.labels = labels
        run.project_id = labels.get("projectId")
        run.parent_instance_id = labels.get("parentInstanceId")
        for key, value in labels.items():
            stmt = _insert(session, RunLabel).values(
                instance_id=run.instance_id, key=key, value=value
            )
            await session.execute(stmt.on_conflict_do_nothing())
