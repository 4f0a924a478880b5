"""Live run events as Server-Sent Events, resumable with ``Last-Event-ID``.

Each event is sent with ``id: <seq>`` (the run's gap-free event sequence), so a client
that reconnects with the last id it saw gets exactly what it missed. A stream wakes at
once when this process records an event for the run and polls the database every second
otherwise (events written by another replica); it ends after the run's final event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.records.models import ExecutionEvent, Run
from orchestrator.records.store import TERMINAL_STATUSES, Notifier

FINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.terminated"})
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
BATCH = 500


def format_event(event: ExecutionEvent) -> str:
    payload: dict[str, Any] = {
        "seq": event.seq,
        "instanceId": event.instance_id,
        "type": event.type,
        "nodeId": event.node_key,
        "at": event.at.isoformat(),
        "data": event.data,
    }
    body = json.dumps(payload, default=str, ensure_ascii=False)
    return f"id: {event.seq}\nevent: {event.type}\ndata: {body}\n\n"


async def run_events(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    notifier: Notifier,
    instance_id: str,
    after: int,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def wake_up() -> None:
        loop.call_soon_threadsafe(wake.set)

    unsubscribe = notifier.subscribe(instance_id, wake_up)
    last = after
    quiet = 0.0
    first_idle = True
    yield "retry: 2000\n\n"
    try:
        while True:
            wake.clear()
            async with sessions() as session:
                rows = list(
                    (
                        await session.execute(
                            select(ExecutionEvent)
                            .where(
                                ExecutionEvent.instance_id == instance_id, ExecutionEvent.seq > last
                            )
                            .order_by(ExecutionEvent.seq)
                            .limit(BATCH)
                        )
                    ).scalars()
                )
            finished = False
            for row in rows:
                last = row.seq
                yield format_event(row)
                finished = finished or row.type in FINAL_EVENTS
            if finished and len(rows) < BATCH:
                return
            if rows:
                quiet = 0.0
                continue
            if await request.is_disconnected():
                return
            if first_idle:
                first_idle = False
                if await _finished(sessions, instance_id):
                    return
            try:
                async with asyncio.timeout(POLL_SECONDS):  # keeps a cancellation (gh-86296)
                    await wake.wait()
            except TimeoutError:
                quiet += POLL_SECONDS
                if quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    yield ": keepalive\n\n"
                    if await _finished(sessions, instance_id):
                        return
    finally:
        unsubscribe()


async def _finished(sessions: async_sessionmaker[AsyncSession], instance_id: str) -> bool:
    async with sessions() as session:
        status = (
            await session.execute(select(Run.runtime_status).where(Run.instance_id == instance_id))
        ).scalar_one_or_none()
    return status is None or status in TERMINAL_STATUSES
