"""The reconciler: at startup and then periodically, make Dapr match the database (jobs
of active schedules, no jobs for inactive ones, one subscription per event topic), drain
overlap queues whose previous run ended, finish firings a crash left pending, and forget
expired webhook signatures. It is what heals a crash between a deploy's commit and its
side effects."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import delete, select

from admin_api.db import utcnow
from admin_api.triggers import events, service
from admin_api.triggers.models import Firing, UsedSignature
from admin_api.triggers.subscriptions import EventSubscriptions
from service_kit.db import transaction

_log = logging.getLogger("admin_api.triggers.reconciler")


class Reconciler:
    def __init__(
        self, rt: service.Triggers, subscriptions: EventSubscriptions | None, interval_s: float
    ) -> None:
        self.rt = rt
        self.subscriptions = subscriptions
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    async def apply(self, workflow_id: str | None = None) -> None:
        """Side effects of a committed deploy/stop (or of everything)."""
        await service.sync_jobs(self.rt, workflow_id)
        await self.refresh_subscriptions()

    async def refresh_subscriptions(self) -> None:
        if self.subscriptions is not None:
            await self.subscriptions.refresh(await events.subscribed_topics(self.rt))

    async def run_once(self) -> None:
        await self.apply()
        await self.drain_queues()
        await service.resume_pending(self.rt)
        await self.forget_signatures()
        self.passes += 1

    async def drain_queues(self) -> None:
        async with self.rt.sessions() as session:
            trigger_ids = set(
                await session.scalars(
                    select(Firing.trigger_id).where(
                        Firing.status == "queued", Firing.trigger_id.is_not(None)
                    )
                )
            )
        for trigger_id in trigger_ids:
            if trigger_id is None:
                continue
            try:
                await service.drain_queue(self.rt, trigger_id)
            except service.TRANSIENT as exc:
                _log.warning("draining the queue of trigger %s failed: %s", trigger_id, exc)

    async def forget_signatures(self) -> None:
        async with transaction(self.rt.sessions) as session:
            await session.execute(delete(UsedSignature).where(UsedSignature.expires_at < utcnow()))

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="trigger reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.subscriptions is not None:
            await self.subscriptions.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception("a reconciler pass failed; the next one retries")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation
            # stop() sends when the wake-up lands in the same step (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
            self._wake.clear()
