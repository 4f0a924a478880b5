"""The jobs engine: keeps every app's jobs, fires them on time, retries per policy.

All jobs live in memory and in ``jobs.db``; one loop sleeps until the earliest due
attempt (or until a job changes or an app comes up) and hands due jobs to delivery
tasks. Delivery is ``POST /job/<name>`` on the owning app's channel, as daprd does for
HTTP apps. A 2xx finishes the occurrence (a one-shot job is then deleted; a recurring
one moves to its next occurrence); a 404 drops the occurrence at once (daprd does not
retry it); any other answer or a timeout is a failed attempt, retried per the job's
failure policy, then dropped with a log line.

While an app is down (its port closed, or it never came up) its due jobs wait, as
Dapr's scheduler holds jobs until the app's sidecar connects; a job overdue after a
sidecar restart fires once as soon as its app is up, and a recurring job then continues
with its next occurrence after now (missed occurrences collapse into that one firing).
Delivery is at-least-once: a crash between the app's answer and the commit of the next
state repeats that delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import httpx

from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.jobs.model import Job, JobSpec, build_job, delivery_body, scheduler_error
from wfb_sidecar.jobs.schedule import rfc3339
from wfb_sidecar.jobs.store import JobStore
from wfb_sidecar.metrics import SidecarMetrics

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 60.0
MAX_CONCURRENT_DELIVERIES = 32


@dataclass
class _Outcome:
    kind: str  # success | failed | not_found | app_down
    detail: str = ""


class JobScheduler:
    def __init__(
        self,
        store: JobStore,
        channels: dict[str, AppChannel],
        metrics: SidecarMetrics,
        *,
        delivery_timeout_s: float = DELIVERY_TIMEOUT_S,
    ) -> None:
        self.store = store
        self.channels = channels
        self.metrics = metrics
        self.delivery_timeout_s = delivery_timeout_s
        self._jobs: dict[tuple[str, str], Job] = {}
        self._inflight: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._lock = asyncio.Lock()
        self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
        for channel in channels.values():
            channel.on_change(self._wake.set)

    async def start(self) -> None:
        await self.store.open()
        now = time.time()
        for job in await self.store.load():
            self._jobs[job.key] = job
            if job.attempt_at is not None and job.attempt_at < now:
                log.info(
                    "job %s of app %s was due at %s while the sidecar was down; it fires once "
                    "as soon as the app is up", job.name, job.app_id, rfc3339(job.attempt_at),
                )  # fmt: skip
        self._update_gauges()
        self._loop_task = asyncio.create_task(self._run(), name="jobs-scheduler")
        log.info("jobs scheduler started with %d stored job(s)", len(self._jobs))

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._tasks, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()
        await self.store.close()

    # -- the API -----------------------------------------------------------------------

    async def schedule(self, app_id: str, spec: JobSpec, *, overwrite: bool) -> Job:
        now = time.time()
        job = build_job(app_id, spec, now)
        async with self._lock:
            if not overwrite and job.key in self._jobs:
                raise scheduler_error(
                    "DAPR_SCHEDULER_SCHEDULE_JOB",
                    f"failed to schedule job due to: job already exists: {job.name}",
                    500,
                )
            await self.store.put(job)
            self._jobs[job.key] = job
        self.metrics.jobs_scheduled.labels(app_id).inc()
        self._update_gauges()
        log.info(
            "job %s of app %s scheduled (schedule=%s, dueTime=%s, repeats=%s, ttl=%s); first "
            "trigger at %s", job.name, app_id, job.schedule, job.due_time, job.repeats, job.ttl,
            rfc3339(job.tick_at or now),
        )  # fmt: skip
        self._wake.set()
        return job

    def get(self, app_id: str, name: str) -> Job:
        job = self._jobs.get((app_id, name))
        if job is None:
            raise scheduler_error(
                "DAPR_SCHEDULER_GET_JOB",
                f"failed to get job due to: rpc error: code = NotFound desc = job not found: {name}",
                500,
            )
        return job

    def jobs_of(self, app_id: str) -> list[Job]:
        return sorted((j for j in self._jobs.values() if j.app_id == app_id), key=lambda j: j.name)

    async def delete(self, app_id: str, names: list[str]) -> int:
        async with self._lock:
            present = [n for n in names if (app_id, n) in self._jobs]
            await self.store.delete(app_id, present)
            for name in present:
                del self._jobs[(app_id, name)]
        for name in present:
            log.info("job %s of app %s deleted", name, app_id)
        self._update_gauges()
        self._wake.set()
        return len(present)

    async def delete_prefix(self, app_id: str, prefix: str) -> int:
        names = [j.name for j in self.jobs_of(app_id) if j.name.startswith(prefix)]
        return await self.delete(app_id, names)

    # -- firing ------------------------------------------------------------------------

    def _deliverable(self, job: Job) -> bool:
        channel = self.channels.get(job.app_id)
        return channel is not None and channel.up and channel.base_url is not None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = time.time()
            next_at: float | None = None
            for key, job in list(self._jobs.items()):
                if key in self._inflight or job.attempt_at is None or not self._deliverable(job):
                    continue
                if job.attempt_at <= now:
                    self._inflight.add(key)
                    task = asyncio.create_task(self._fire(job), name=f"job-{job.app_id}-{job.name}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif next_at is None or job.attempt_at < next_at:
                    next_at = job.attempt_at
            timeout = None if next_at is None else max(0.0, next_at - time.time())
            # asyncio.timeout, not wait_for (which loses a cancellation on 3.11 when the
            # wake-up comes at the same moment): stop() cancels this loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _fire(self, job: Job) -> None:
        try:
            async with self._slots:
                await self._attempt(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("firing job %s of app %s failed; retrying in 1s", job.name, job.app_id)
            await asyncio.sleep(1)
        finally:
            self._inflight.discard(job.key)
            self._wake.set()

    async def _attempt(self, job: Job) -> None:
        now = time.time()
        if job.attempts == 0 and job.expires_at is not None and now > job.expires_at:
            async with self._lock:
                if self._jobs.get(job.key) is job:
                    log.info("job %s of app %s expired (ttl) before it fired", job.name, job.app_id)
                    self.metrics.job_triggers.labels(job.app_id, "expired").inc()
                    await self._finish(job)
            return
        channel = self.channels[job.app_id]
        started = time.perf_counter()
        outcome = await self._post(channel, job)
        self.metrics.job_trigger_seconds.labels(job.app_id).observe(time.perf_counter() - started)
        async with self._lock:
            if self._jobs.get(job.key) is not job:
                log.info(
                    "job %s of app %s was deleted or replaced while firing (%s)",
                    job.name, job.app_id, outcome.kind,
                )  # fmt: skip
                return
            await self._settle(job, channel, outcome)

    async def _post(self, channel: AppChannel, job: Job) -> _Outcome:
        url = f"{channel.base_url}/job/{job.name}"
        headers = {"content-type": "application/json", **channel.headers()}
        try:
            response = await self._client.post(
                url, content=delivery_body(job), headers=headers, timeout=self.delivery_timeout_s
            )
        except httpx.ConnectError as exc:
            return _Outcome("app_down", str(exc) or "connection refused")
        except httpx.HTTPError as exc:
            return _Outcome("failed", f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return _Outcome("success")
        detail = f"the app answered {response.status_code}: {response.text[:200]}"
        if response.status_code == 404:
            return _Outcome("not_found", detail)
        return _Outcome("failed", detail)

    async def _settle(self, job: Job, channel: AppChannel, outcome: _Outcome) -> None:
        labels = (job.app_id,)
        if outcome.kind == "app_down":
            channel.mark_down()  # not an attempt: the job waits for the app to be back
            log.info("job %s: app %s is unreachable; waiting for it", job.name, job.app_id)
            return
        if outcome.kind == "success":
            self.metrics.job_triggers.labels(*labels, "success").inc()
            log.info("job %s of app %s fired (occurrence %d)", job.name, job.app_id, job.count + 1)
            await self._finish(job)
            return
        job.attempts += 1
        if outcome.kind == "failed" and job.policy.may_retry(job.attempts):
            job.attempt_at = time.time() + job.policy.interval_s
            await self.store.put(job)
            self.metrics.job_triggers.labels(*labels, "retry").inc()
            log.warning(
                "job %s of app %s failed (%s); retry %d in %.3gs",
                job.name, job.app_id, outcome.detail, job.attempts, job.policy.interval_s,
            )  # fmt: skip
            return
        self.metrics.job_triggers.labels(
            *labels, "not_found" if outcome.kind == "not_found" else "failed"
        ).inc()
        log.error(
            "job %s of app %s dropped this occurrence after %d attempt(s): %s",
            job.name, job.app_id, job.attempts, outcome.detail,
        )  # fmt: skip
        await self._finish(job)

    async def _finish(self, job: Job) -> None:
        """The current occurrence is over: move to the next one, or delete the job."""
        job.count += 1
        job.attempts = 0
        following = job.next_tick(time.time())
        if following is None:
            await self.store.delete(job.app_id, [job.name])
            self._jobs.pop(job.key, None)
            self._update_gauges()
            log.info("job %s of app %s is complete and deleted", job.name, job.app_id)
            return
        job.tick_at = following
        job.attempt_at = following
        await self.store.put(job)

    def _update_gauges(self) -> None:
        counts: dict[str, int] = dict.fromkeys(self.channels, 0)
        for app_id, _ in self._jobs:
            counts[app_id] = counts.get(app_id, 0) + 1
        for app_id, count in counts.items():
            self.metrics.jobs_stored.labels(app_id).set(count)
