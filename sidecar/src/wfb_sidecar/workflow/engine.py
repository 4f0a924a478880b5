"""The in-memory half of the backend: which work is ready, what is in flight on which
worker stream, timers, and long-poll waiters.

Nothing here is needed for durability: it is rebuilt from the store on start (instances
with inbox rows are ready, every activity task row is pending, the earliest timer is
read back). In-flight markers live only here, so a restart starts with none and
dispatches everything unfinished again: activities are at-least-once, while turns are
exactly-once from the workflow's point of view because a turn's result is committed in
the same transaction that consumes its inbox rows, and a completion whose token is not
the one in flight is dropped.

Memory stays proportional to the work that is ready or running: an instance waiting for
an event or a timer holds nothing here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from prometheus_client import CollectorRegistry

from . import ops, turns
from .metrics import GaugeSnapshot, WorkflowMetrics
from .model import ActivityItem, Effects, InstanceRow, Key, Turn, TurnData
from .protos import now_us, pb
from .store import Store, StoreClosedError

log = logging.getLogger(__name__)

_PAST_EVENTS_TAG = b"\x1a"  # WorkflowRequest.pastEvents: field 3, length-delimited


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encoded_past_events(events: list[bytes]) -> bytes:
    """Serialized history spliced straight into a WorkflowRequest, without re-parsing."""
    return b"".join(_PAST_EVENTS_TAG + _varint(len(e)) + e for e in events)


@dataclass(eq=False)
class WorkerStream:
    """One open GetWorkItems stream of a worker."""

    id: int
    app_id: str
    health_ping: bool
    stateful_history: bool
    queue: asyncio.Queue[pb.WorkItem | None] = field(default_factory=asyncio.Queue)
    warm: dict[str, int] = field(default_factory=dict)  # instance id -> cached events
    turns: set[str] = field(default_factory=set)  # completion tokens
    activities: set[str] = field(default_factory=set)
    closed: bool = False


@dataclass(eq=False)
class AppState:
    """Scheduling state of one app id's partition of instances."""

    app_id: str
    ready: dict[str, None] = field(default_factory=dict)  # an ordered set
    in_flight: dict[str, Turn | None] = field(default_factory=dict)  # None: loading
    dirty: set[str] = field(default_factory=set)  # got events while in flight
    stalled: set[str] = field(default_factory=set)
    turn_tokens: dict[str, Turn] = field(default_factory=dict)
    streams: dict[int, WorkerStream] = field(default_factory=dict)
    activities: deque[ActivityItem] = field(default_factory=deque)
    live_tasks: dict[int, ActivityItem] = field(default_factory=dict)
    activity_flight: dict[str, tuple[ActivityItem, int, float]] = field(default_factory=dict)
    commit_failures: dict[str, int] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dispatcher: asyncio.Task[None] | None = None
    rr: int = 0


_MAX_WARM_PER_STREAM = 200_000
_MAX_COMMIT_FAILURES = 3


class Engine:
    def __init__(
        self,
        store: Store,
        registry: CollectorRegistry,
        *,
        turn_lease_seconds: float = 120.0,
        health_ping_seconds: float = 15.0,
        dispatch_batch: int = 64,
        timer_batch: int = 512,
        max_turns_per_stream: int = 500,
    ) -> None:
        self.store = store
        self.turn_lease_seconds = turn_lease_seconds
        self.health_ping_seconds = health_ping_seconds
        self.dispatch_batch = dispatch_batch
        self.timer_batch = timer_batch
        self.max_turns_per_stream = max_turns_per_stream
        self.apps: dict[str, AppState] = {}
        self.metrics = WorkflowMetrics(registry, self._snapshot)
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stream_ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._boot = f"{time.time_ns():x}"
        self._waiters: dict[Key, set[asyncio.Event]] = {}
        self._pending_timers = 0
        self._next_timer: int | None = None
        self._timer_hint: int | None = None
        self._timer_wake = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        recovery = await self.store.read(ops.recover, offload=True)
        self._running = True
        for app in self.apps.values():
            self._start_dispatcher(app)
        for key in recovery.ready:
            self.notify_ready(key)
        for item in recovery.tasks:
            self._enqueue_activity(item)
        self._pending_timers = recovery.pending_timers
        self._next_timer = recovery.next_timer
        self._tasks.append(asyncio.create_task(self._timer_loop(), name="wf-timers"))
        self._tasks.append(asyncio.create_task(self._lease_loop(), name="wf-leases"))
        log.info(
            "workflow backend recovered: %d instances ready, %d activities pending, "
            "%d timers pending",
            len(recovery.ready),
            len(recovery.tasks),
            recovery.pending_timers,
        )

    async def stop(self) -> None:
        self._running = False
        for app in self.apps.values():
            app.wake.set()
            for stream in list(app.streams.values()):
                stream.queue.put_nowait(None)
        tasks = [t for t in self._tasks]
        tasks += [a.dispatcher for a in self.apps.values() if a.dispatcher is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for events in self._waiters.values():
            for ev in events:
                ev.set()

    def app(self, app_id: str) -> AppState:
        state = self.apps.get(app_id)
        if state is None:
            state = self.apps[app_id] = AppState(app_id)
            if self._running:
                self._start_dispatcher(state)
        return state

    def _start_dispatcher(self, app: AppState) -> None:
        if app.dispatcher is None:
            app.dispatcher = asyncio.create_task(
                self._dispatch_loop(app), name=f"wf-dispatch-{app.app_id}"
            )

    # -- applying committed changes --------------------------------------------------------

    def apply(self, effects: Effects) -> None:
        for key in effects.reset:
            self._forget(key)
        for item in effects.activities:
            self._enqueue_activity(item)
        for row_id in effects.cancelled_tasks:
            for app in self.apps.values():
                app.live_tasks.pop(row_id, None)
        self._pending_timers += effects.timers_added - effects.timers_removed
        if effects.earliest_timer is not None:
            self._timer_hint = _min(self._timer_hint, effects.earliest_timer)
            if self._next_timer is None or effects.earliest_timer < self._next_timer:
                self._next_timer = effects.earliest_timer
                self._timer_wake.set()
        for key in effects.stalled:
            self.app(key[0]).stalled.add(key[1])
        for key in effects.ready:
            self.notify_ready(key)
        for key in effects.status_changed:
            for ev in self._waiters.get(key, ()):
                ev.set()

    def _forget(self, key: Key) -> None:
        """The instance's history was replaced or removed: no stream may keep a cached copy,
        and a turn in flight for the old state is void."""
        app = self.apps.get(key[0])
        if app is None:
            return
        for stream in app.streams.values():
            stream.warm.pop(key[1], None)
        turn = app.in_flight.get(key[1])
        if turn is not None and not turn.completing:
            self._release_turn(app, turn)
            self.notify_ready(key)

    def notify_ready(self, key: Key) -> None:
        app = self.app(key[0])
        iid = key[1]
        if iid in app.in_flight:
            app.dirty.add(iid)
        else:
            app.ready[iid] = None
            app.wake.set()

    # -- worker streams --------------------------------------------------------------------

    def open_stream(self, app_id: str, capabilities: list[int]) -> WorkerStream:
        app = self.app(app_id)
        stream = WorkerStream(
            id=next(self._stream_ids),
            app_id=app_id,
            health_ping=pb.WORKER_CAPABILITY_HEALTH_PING in capabilities,
            stateful_history=pb.WORKER_CAPABILITY_STATEFUL_HISTORY in capabilities,
        )
        app.streams[stream.id] = stream
        if not self._running:
            stream.queue.put_nowait(None)  # stopping: end the stream at once
        for iid in app.stalled:  # a new worker may have the version they need
            app.ready[iid] = None
        app.stalled.clear()
        app.wake.set()
        log.info("worker stream %d opened for app %s", stream.id, app_id)
        return stream

    def close_stream(self, stream: WorkerStream) -> None:
        if stream.closed:
            return
        stream.closed = True
        app = self.app(stream.app_id)
        app.streams.pop(stream.id, None)
        requeued_turns = 0
        for token in list(stream.turns):
            turn = app.turn_tokens.get(token)
            if turn is not None and not turn.completing:
                self._release_turn(app, turn)
                self.notify_ready(turn.key)
                requeued_turns += 1
        requeued = []
        for token in list(stream.activities):
            entry = app.activity_flight.pop(token, None)
            if entry is not None and entry[0].row_id in app.live_tasks:
                requeued.append(entry[0])
        app.activities.extendleft(reversed(requeued))
        if requeued_turns:
            self.metrics.redispatched.labels(app.app_id, "orchestration").inc(requeued_turns)
        if requeued:
            self.metrics.redispatched.labels(app.app_id, "activity").inc(len(requeued))
        app.wake.set()
        log.info(
            "worker stream %d of app %s closed; requeued %d turns and %d activities",
            stream.id,
            stream.app_id,
            requeued_turns,
            len(requeued),
        )

    def _pick_stream(
        self, app: AppState, iid: str | None = None, reserved: dict[int, int] | None = None
    ) -> WorkerStream | None:
        """A stream for the next work item: round robin, preferring for a turn a stream
        that holds the instance's history, and giving no stream more than
        ``max_turns_per_stream`` turns at once (``reserved`` counts turns being loaded)."""
        streams = list(app.streams.values())
        if reserved is not None:
            cap = self.max_turns_per_stream
            streams = [s for s in streams if len(s.turns) + reserved.get(s.id, 0) < cap]
        if not streams:
            return None
        if iid is not None and len(streams) > 1:
            for stream in streams:
                if iid in stream.warm:
                    return stream
        app.rr = (app.rr + 1) % len(streams)
        return streams[app.rr]

    def _token(self) -> str:
        return f"{self._boot}-{next(self._tokens)}"

    # -- orchestration turns -----------------------------------------------------------------

    async def _dispatch_loop(self, app: AppState) -> None:
        while self._running:
            await app.wake.wait()
            app.wake.clear()
            try:
                while self._running and app.streams:
                    self._dispatch_activities(app)
                    if not app.ready or not await self._dispatch_turns(app):
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("workflow dispatch for app %s failed; retrying", app.app_id)
                await asyncio.sleep(0.5)
                app.wake.set()

    async def _dispatch_turns(self, app: AppState) -> bool:
        """Load and send a batch of ready turns; ``False`` when no stream has room."""
        batch: list[tuple[str, WorkerStream]] = []
        reserved: dict[int, int] = {}
        while app.ready and len(batch) < self.dispatch_batch:
            iid = next(iter(app.ready))
            if iid in app.in_flight:
                del app.ready[iid]
                app.dirty.add(iid)
                continue
            stream = self._pick_stream(app, iid, reserved)
            if stream is None:
                break  # every stream is full: wait for results to free a slot
            del app.ready[iid]
            reserved[stream.id] = reserved.get(stream.id, 0) + 1
            app.in_flight[iid] = None  # loading
            batch.append((iid, stream))
        if not batch:
            return False
        requests = [
            ((app.app_id, iid), stream.warm.get(iid) if stream.stateful_history else None)
            for iid, stream in batch
        ]
        try:
            loaded = await self.store.read(partial(_load_turns, requests=requests, now=now_us()))
        except BaseException:
            for iid, _ in batch:
                app.in_flight.pop(iid, None)
                app.ready[iid] = None
            raise
        for (iid, stream), data in zip(batch, loaded, strict=True):
            app.in_flight.pop(iid, None)
            if stream.closed or not self._running:
                self._requeue_instance(app, iid)
                continue
            if isinstance(data, TurnData) and data.new_events:
                self._send_turn(app, stream, data)
                continue
            if isinstance(data, TurnData):  # only stale events: discard them
                await self.store.write(partial(ops.discard_inbox, ids=data.inbox_ids))
            if iid in app.dirty:
                app.dirty.discard(iid)
                app.ready[iid] = None
        return True

    def _requeue_instance(self, app: AppState, iid: str) -> None:
        app.dirty.discard(iid)
        app.ready[iid] = None
        app.wake.set()

    def _send_turn(self, app: AppState, stream: WorkerStream, data: TurnData) -> None:
        iid = data.key[1]
        token = self._token()
        item = pb.WorkItem(completionToken=token)
        req = item.workflowRequest
        req.instanceId = iid
        req.executionId.value = data.execution_id
        req.newEvents.extend(data.new_events)
        if data.past_from > 0:
            req.cachedHistory.eventCount = data.past_from
        if data.past_events:
            req.MergeFromString(_encoded_past_events(data.past_events))
        if stream.stateful_history:
            stream.warm[iid] = data.history_len
            if len(stream.warm) > _MAX_WARM_PER_STREAM:
                stream.warm.pop(next(iter(stream.warm)))
        started = time.monotonic()
        turn = Turn(
            key=data.key,
            token=token,
            execution_id=data.execution_id,
            history_len=data.history_len,
            new_events=data.new_events,
            inbox_ids=data.inbox_ids,
            stream_id=stream.id,
            dispatched_at=started,
            deadline=started + self.turn_lease_seconds,
        )
        app.in_flight[iid] = turn
        app.turn_tokens[token] = turn
        stream.turns.add(token)
        stream.queue.put_nowait(item)
        self.metrics.dispatched.labels(app.app_id, "orchestration").inc()

    def _release_turn(self, app: AppState, turn: Turn) -> None:
        app.turn_tokens.pop(turn.token, None)
        if app.in_flight.get(turn.key[1]) is turn:
            del app.in_flight[turn.key[1]]
        stream = app.streams.get(turn.stream_id)
        if stream is not None:
            stream.turns.discard(turn.token)
            if app.ready:
                app.wake.set()  # a slot on the stream is free again

    async def complete_turn(self, app_id: str, res: pb.WorkflowResponse) -> None:
        app = self.app(app_id)
        turn = self._find_turn(app, res)
        if turn is None:
            self.metrics.dropped.labels(app_id, "orchestration").inc()
            log.info(
                "dropping a stale or duplicate result for instance '%s' of app %s",
                res.instanceId,
                app_id,
            )
            return
        turn.completing = True
        early: list[ActivityItem] = []

        def start_activities(effects: Effects | None) -> None:
            # Activities start while the commit is on its way to disk: if it never gets
            # there, the workflow schedules them again (activities are at-least-once) and
            # the early runs' results match no task row.
            if effects is not None:
                early.extend(effects.activities)
                for item in effects.activities:
                    self._enqueue_activity(item)
                effects.activities = []

        try:
            effects = await self.store.write(
                partial(turns.complete_turn, turn=turn, res=res, now=now_us()),
                applied=start_activities,
            )
        except StoreClosedError:
            return  # shutting down: nothing was committed, the turn runs again after restart
        except Exception as exc:
            for item in early:
                self.app(item.app_id).live_tasks.pop(item.row_id, None)
            turn.completing = False
            self._release_turn(app, turn)
            failures = app.commit_failures[turn.key[1]] = (
                app.commit_failures.get(turn.key[1], 0) + 1
            )
            if failures < _MAX_COMMIT_FAILURES:
                log.exception(
                    "could not commit the turn of '%s'; it will run again", res.instanceId
                )
                self.notify_ready(turn.key)
            else:
                await self._fail_instance(app, turn.key, exc)
            return
        app.commit_failures.pop(turn.key[1], None)
        self._release_turn(app, turn)
        self.metrics.turn_latency.labels(app_id).observe(time.monotonic() - turn.dispatched_at)
        self.metrics.completed.labels(app_id, "orchestration").inc()
        if effects is None:
            self.notify_ready(turn.key)
        else:
            self.apply(effects)
        if turn.key[1] in app.dirty:
            app.dirty.discard(turn.key[1])
            self.notify_ready(turn.key)

    async def _fail_instance(self, app: AppState, key: Key, exc: Exception) -> None:
        """A worker's result that cannot be applied would otherwise be dispatched forever."""
        log.error("giving up on instance '%s' of app %s: %s", key[1], key[0], exc)
        app.commit_failures.pop(key[1], None)
        try:
            effects = await self.store.write(
                partial(
                    ops.fail_instance,
                    key=key,
                    message=f"the sidecar could not apply the workflow's result: {exc}",
                    now=now_us(),
                )
            )
        except Exception:
            log.exception("could not mark instance '%s' as failed", key[1])
            return
        self.apply(effects)

    def _find_turn(self, app: AppState, res: pb.WorkflowResponse) -> Turn | None:
        if res.completionToken:
            turn = app.turn_tokens.get(res.completionToken)
        else:  # a worker that does not echo tokens: match the instance's turn in flight
            turn = app.in_flight.get(res.instanceId)
        if turn is None or turn.completing or turn.key[1] != res.instanceId:
            return None
        return turn

    # -- activities ------------------------------------------------------------------------------

    def _enqueue_activity(self, item: ActivityItem) -> None:
        app = self.app(item.app_id)
        app.live_tasks[item.row_id] = item
        app.activities.append(item)
        app.wake.set()

    def _dispatch_activities(self, app: AppState) -> None:
        while app.activities:
            stream = self._pick_stream(app)
            if stream is None:
                return
            item = app.activities.popleft()
            if item.row_id not in app.live_tasks:
                continue  # its workflow moved on
            token = self._token()
            work = pb.WorkItem(completionToken=token)
            work.activityRequest.MergeFromString(item.request)
            app.activity_flight[token] = (item, stream.id, time.monotonic())
            stream.activities.add(token)
            stream.queue.put_nowait(work)
            self.metrics.dispatched.labels(app.app_id, "activity").inc()

    async def complete_activity(self, app_id: str, res: pb.ActivityResponse) -> None:
        app = self.app(app_id)
        token = res.completionToken or self._activity_token(app, res)
        entry = app.activity_flight.pop(token, None) if token else None
        if (
            entry is None
            or entry[0].instance[1] != res.instanceId
            or entry[0].task_id != res.taskId
        ):
            if entry is not None:
                app.activity_flight[token] = entry
            self.metrics.dropped.labels(app_id, "activity").inc()
            log.info(
                "dropping a stale or duplicate activity result %s#%d of app %s",
                res.instanceId,
                res.taskId,
                app_id,
            )
            return
        item, stream_id, dispatched_at = entry
        stream = app.streams.get(stream_id)
        if stream is not None:
            stream.activities.discard(token)
        try:
            effects = await self.store.write(
                partial(ops.complete_activity, item=item, res=res, now=now_us())
            )
        except StoreClosedError:
            return  # shutting down: the activity runs again after restart
        except Exception:
            log.exception("could not commit an activity result; the activity will run again")
            if item.row_id in app.live_tasks:
                app.activities.appendleft(item)
                app.wake.set()
            return
        if app.live_tasks.get(item.row_id) is item:
            del app.live_tasks[item.row_id]
        self.metrics.activity_latency.labels(app_id).observe(time.monotonic() - dispatched_at)
        self.metrics.completed.labels(app_id, "activity").inc()
        if effects is not None:
            self.apply(effects)

    def _activity_token(self, app: AppState, res: pb.ActivityResponse) -> str:
        for token, (item, _, _) in app.activity_flight.items():
            if item.instance[1] == res.instanceId and item.task_id == res.taskId:
                return token
        return ""

    # -- timers and leases ---------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        while self._running:
            now = now_us()
            due = self._next_timer
            if due is not None and due <= now:
                self._timer_hint = None
                try:
                    effects, next_due = await self.store.write(
                        partial(ops.fire_timers, now=now, limit=self.timer_batch)
                    )
                except Exception:
                    log.exception("firing timers failed; retrying")
                    await asyncio.sleep(0.5)
                    continue
                self._next_timer = _min(next_due, self._timer_hint)
                self.apply(effects)
                continue
            delay = 30.0 if due is None else min(30.0, (due - now) / 1e6)
            self._timer_wake.clear()
            try:
                async with asyncio.timeout(max(delay, 0.0)):  # wait_for may lose a cancel
                    await self._timer_wake.wait()
            except TimeoutError:
                if due is None:  # a cheap safety net; every timer insert also wakes us
                    self._next_timer = await self.store.read(ops.next_timer_due)

    async def _lease_loop(self) -> None:
        while self._running:
            await asyncio.sleep(min(1.0, self.turn_lease_seconds / 4))
            now = time.monotonic()
            for app in self.apps.values():
                expired = [
                    t for t in app.turn_tokens.values() if t.deadline < now and not t.completing
                ]
                for turn in expired:
                    log.warning(
                        "turn of '%s' (app %s) got no result within %.0fs; dispatching it again",
                        turn.key[1],
                        app.app_id,
                        self.turn_lease_seconds,
                    )
                    self._release_turn(app, turn)
                    self.notify_ready(turn.key)
                    self.metrics.redispatched.labels(app.app_id, "orchestration").inc()

    async def health_pings(self, stream: WorkerStream) -> None:
        """Keep a stream busy while idle so a dead worker is noticed by a failed write."""
        ping = pb.WorkItem(healthPing=pb.HealthPing())
        while not stream.closed:
            await asyncio.sleep(self.health_ping_seconds)
            if stream.queue.empty():
                stream.queue.put_nowait(ping)

    # -- long polls ----------------------------------------------------------------------------

    async def wait_for(
        self, key: Key, satisfied: Callable[[InstanceRow], bool]
    ) -> InstanceRow | None:
        """Block until the instance satisfies a condition (or does not exist)."""
        ev = asyncio.Event()
        waiters = self._waiters.setdefault(key, set())
        waiters.add(ev)
        try:
            while True:
                if not self._running:  # clients see UNAVAILABLE and retry elsewhere/later
                    raise StoreClosedError("the sidecar is shutting down")
                ev.clear()
                row = await self.store.read(partial(ops.get_instance, key=key))
                if row is None or satisfied(row):
                    return row
                await ev.wait()
        finally:
            waiters.discard(ev)
            if not waiters:
                self._waiters.pop(key, None)

    # -- metrics ---------------------------------------------------------------------------------

    def _snapshot(self) -> GaugeSnapshot:
        apps = list(self.apps.values())
        return GaugeSnapshot(
            ready={a.app_id: len(a.ready) for a in apps},
            # Called from whatever thread scrapes: only atomic reads (len) of loop state.
            pending_activities={a.app_id: len(a.activities) for a in apps},
            turns_in_flight={a.app_id: len(a.turn_tokens) for a in apps},
            activities_in_flight={a.app_id: len(a.activity_flight) for a in apps},
            streams={a.app_id: len(a.streams) for a in apps},
            pending_timers=self._pending_timers,
        )


def _load_turns(
    conn: sqlite3.Connection, requests: list[tuple[Key, int | None]], now: int
) -> list[TurnData | str | None]:
    return [ops.load_turn(conn, key, warm, now) for key, warm in requests]


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
