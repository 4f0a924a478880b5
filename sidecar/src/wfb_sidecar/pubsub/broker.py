"""The broker: publishing, subscriptions per app, and ordered at-least-once delivery.

One worker per consumer group (app, pub/sub, topic) delivers that group's messages one
at a time in publish order: a message being retried holds back the ones after it
(per-subscription ordering). A delivery is acknowledged, dropped, dead-lettered or
parked only after the subscriber's answer, so a crash at any moment redelivers at most
the message in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from wfb_sidecar import errors
from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.durations import parse_go_duration
from wfb_sidecar.metrics import SidecarMetrics
from wfb_sidecar.pubsub import cloudevents
from wfb_sidecar.pubsub.store import GroupKey, NewMessage, Pending, PubSubStore
from wfb_sidecar.pubsub.streams import CLOSED, TIMEOUT, EventStream
from wfb_sidecar.pubsub.subscriptions import ActiveSubscription
from wfb_sidecar.resiliency import ResiliencyRegistry, RetryPolicy
from wfb_sidecar.resources import ResourceError

log = logging.getLogger(__name__)

JANITOR_INTERVAL_S = 30.0


def _now_ms() -> int:
    return int(time.time() * 1000)


def _scopes(text: str | None, where: str) -> dict[str, frozenset[str]] | None:
    """``"app1=t1,t2;app2="`` -> {app1: {t1, t2}, app2: {}} (Dapr's topic scoping format)."""
    if not text:
        return None
    result: dict[str, frozenset[str]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        if "=" not in part:
            raise ResourceError(f"{where}: scope {part!r} must look like 'app-id=topic1,topic2'")
        app, topics = part.split("=", 1)
        result[app.strip()] = frozenset(t.strip() for t in topics.split(",") if t.strip())
    return result


def _topics(text: str | None) -> frozenset[str] | None:
    return frozenset(t.strip() for t in text.split(",") if t.strip()) if text else None


@dataclass(frozen=True)
class PubSubSettings:
    """One ``pubsub.in-memory`` component with its metadata applied."""

    name: str
    retention_ms: int
    retry: RetryPolicy
    delivery_timeout_s: float
    scopes: frozenset[str]
    allowed_topics: frozenset[str] | None = None
    protected_topics: frozenset[str] | None = None
    publishing_scopes: dict[str, frozenset[str]] | None = None
    subscription_scopes: dict[str, frozenset[str]] | None = None

    @classmethod
    def from_metadata(
        cls, name: str, metadata: Mapping[str, str], scopes: list[str], where: str
    ) -> PubSubSettings:
        try:
            retention = parse_go_duration(metadata.get("unclaimedRetention", "1h"))
            timeout = parse_go_duration(metadata.get("deliveryTimeout", "60s"))
        except ValueError as exc:
            raise ResourceError(f"{where}: {exc}") from None
        return cls(
            name=name,
            retention_ms=int(retention * 1000),
            retry=RetryPolicy.from_component_metadata(metadata, where),
            delivery_timeout_s=timeout,
            scopes=frozenset(scopes),
            allowed_topics=_topics(metadata.get("allowedTopics")),
            protected_topics=_topics(metadata.get("protectedTopics")),
            publishing_scopes=_scopes(metadata.get("publishingScopes"), where),
            subscription_scopes=_scopes(metadata.get("subscriptionScopes"), where),
        )

    def visible_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes

    def _allowed(self, scopes: dict[str, frozenset[str]] | None, app_id: str, topic: str) -> bool:
        if self.allowed_topics is not None and topic not in self.allowed_topics:
            return False
        if scopes is not None and app_id in scopes:
            return topic in scopes[app_id]
        return not (self.protected_topics and topic in self.protected_topics)

    def can_publish(self, app_id: str, topic: str) -> bool:
        return self._allowed(self.publishing_scopes, app_id, topic)

    def can_subscribe(self, app_id: str, topic: str) -> bool:
        return self._allowed(self.subscription_scopes, app_id, topic)


@dataclass
class PublishEntry:
    data: bytes
    content_type: str | None = None
    metadata: Mapping[str, str] | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    entry_id: str = ""


@dataclass
class _Outcome:
    kind: str  # success | retry | drop | not_found | app_down
    detail: str = ""


class Broker:
    def __init__(
        self,
        store: PubSubStore,
        components: dict[str, PubSubSettings],
        channels: dict[str, AppChannel],
        resiliency: ResiliencyRegistry,
        metrics: SidecarMetrics,
    ) -> None:
        self.store = store
        self.components = components
        self.channels = channels
        self.resiliency = resiliency
        self.metrics = metrics
        self._active: dict[GroupKey, ActiveSubscription] = {}
        self._streams: dict[GroupKey, list[EventStream]] = {}
        self._stream_groups: dict[GroupKey, int | None] = {}  # -> closed at (ms), None: open
        self._turn: dict[GroupKey, int] = {}
        self._wake: dict[GroupKey, asyncio.Event] = {}
        self._workers: dict[GroupKey, asyncio.Task[None]] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
        self._lock = asyncio.Lock()
        for channel in channels.values():
            channel.on_change(functools.partial(self._wake_app, channel.app_id))

    async def start(self) -> None:
        await self.store.open()
        await self.store.streams_closed(_now_ms())
        self._stream_groups = await self.store.stream_groups()
        for group in await self.store.groups():
            self._ensure_worker(group)
        self._janitor = asyncio.create_task(self._janitor_loop(), name="pubsub-janitor")

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._workers.values(), *([self._janitor] if self._janitor else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        await self._client.aclose()
        await self.store.close()

    # -- publishing ------------------------------------------------------------------

    def component(self, app_id: str, name: str) -> PubSubSettings:
        if not name:
            raise errors.DaprError("ERR_PUBSUB_EMPTY", "pubsub name is empty", http_status=404)
        if not self.components:
            raise errors.DaprError(
                "ERR_PUBSUB_NOT_CONFIGURED", "pubsub is not configured", http_status=400
            )
        settings = self.components.get(name)
        if settings is None or not settings.visible_to(app_id):
            raise errors.pubsub_not_found(name)
        return settings

    def _message(self, app_id: str, pubsub: str, topic: str, entry: PublishEntry) -> NewMessage:
        metadata = entry.metadata or {}
        ttl = metadata.get("ttlInSeconds")
        expires: int | None = None
        if ttl:
            try:
                expires = _now_ms() + int(float(ttl) * 1000)
            except ValueError:
                raise errors.bad_request(
                    f"ttlInSeconds must be a number, got {ttl!r}", "ERR_PUBSUB_REQUEST_METADATA"
                ) from None
        if metadata.get("rawPayload", "").lower() == "true":
            content_type = entry.content_type or "application/octet-stream"
            return NewMessage(entry.data, content_type, True, expires)
        try:
            event = cloudevents.new_envelope(
                entry.data,
                entry.content_type,
                source=app_id,
                pubsub=pubsub,
                topic=topic,
                traceparent=entry.traceparent,
                tracestate=entry.tracestate,
                overrides=metadata,
            )
        except cloudevents.CloudEventError as exc:
            raise errors.DaprError(
                "ERR_PUBSUB_CLOUD_EVENTS_SER", f"cannot create cloudevent: {exc}", http_status=400
            ) from None
        return NewMessage(
            cloudevents.envelope_bytes(event), cloudevents.CLOUDEVENTS_CONTENT_TYPE, False, expires
        )

    async def publish(
        self, app_id: str, pubsub: str, topic: str, entries: list[PublishEntry]
    ) -> list[int]:
        """Persist messages (all or none); return their ids once they are on disk."""
        settings = self.component(app_id, pubsub)
        if not topic:
            raise errors.DaprError(
                "ERR_TOPIC_EMPTY", f"topic is empty in pubsub {pubsub}", http_status=404
            )
        if not settings.can_publish(app_id, topic):
            raise errors.pubsub_forbidden(topic, app_id)
        messages = [self._message(app_id, pubsub, topic, entry) for entry in entries]
        ids, groups = await self.store.publish(pubsub, topic, app_id, messages, _now_ms())
        self.metrics.published.labels(app_id, pubsub, topic).inc(len(ids))
        for group in groups:
            self._wake_group(group)
        return ids

    # -- subscriptions -----------------------------------------------------------------

    def subscriptions_of(self, app_id: str) -> list[ActiveSubscription]:
        subs = {k: s for k, s in self._active.items() if k.app_id == app_id}
        for key, streams in self._streams.items():
            if key.app_id == app_id and streams and key not in subs:
                subs[key] = ActiveSubscription(
                    app_id,
                    key.pubsub,
                    key.topic,
                    [],
                    None,
                    streams[0].dead_letter_topic,
                    dict(streams[0].metadata),
                    "STREAMING",
                )
        return [s for _, s in sorted(subs.items())]

    def _usable(self, sub: ActiveSubscription) -> bool:
        settings = self.components.get(sub.pubsub)
        if settings is None or not settings.visible_to(sub.app_id):
            log.error(
                "app %s subscribes to %s/%s, but there is no pub/sub component %r for it; ignored",
                sub.app_id, sub.pubsub, sub.topic, sub.pubsub,
            )  # fmt: skip
            return False
        if not settings.can_subscribe(sub.app_id, sub.topic):
            log.error(
                "app %s may not subscribe to topic %s of %s (subscriptionScopes/allowedTopics); "
                "ignored", sub.app_id, sub.topic, sub.pubsub,
            )  # fmt: skip
            return False
        return True

    async def add_subscriptions(self, app_id: str, subs: list[ActiveSubscription]) -> None:
        """Activate subscriptions (declarative ones, at startup) without removing any."""
        async with self._lock:
            for sub in subs:
                if self._usable(sub):
                    await self._activate(sub)

    async def set_subscriptions(self, app_id: str, subs: list[ActiveSubscription]) -> None:
        """The app's complete set (after discovery): activate these, forget the others."""
        async with self._lock:
            wanted: dict[GroupKey, ActiveSubscription] = {}
            for sub in subs:
                key = GroupKey(app_id, sub.pubsub, sub.topic)
                if key in wanted:
                    log.warning(
                        "app %s subscribes twice to %s/%s; the %s one wins",
                        app_id, sub.pubsub, sub.topic, wanted[key].kind.lower(),
                    )  # fmt: skip
                    continue
                if self._usable(sub):
                    wanted[key] = sub
            for key in [k for k in await self.store.groups() if k.app_id == app_id]:
                if key not in wanted and key in self._stream_groups:
                    self._active.pop(key, None)  # the streams keep the group
                elif key not in wanted:
                    dropped = await self.store.unregister(key)
                    self._active.pop(key, None)
                    worker = self._workers.pop(key, None)
                    if worker is not None:
                        worker.cancel()
                    log.warning(
                        "app %s no longer subscribes to %s/%s; %d pending message(s) dropped",
                        app_id, key.pubsub, key.topic, dropped,
                    )  # fmt: skip
            for sub in wanted.values():
                await self._activate(sub)

    async def _activate(self, sub: ActiveSubscription) -> None:
        key = GroupKey(sub.app_id, sub.pubsub, sub.topic)
        retention = self.components[sub.pubsub].retention_ms
        taken = await self.store.register(key, _now_ms(), retention)
        if taken:
            log.info(
                "app %s took %d message(s) published to %s/%s before it subscribed",
                sub.app_id, taken, sub.pubsub, sub.topic,
            )  # fmt: skip
        self._active[key] = sub
        self._ensure_worker(key)
        self._wake_group(key)

    # -- streaming subscriptions ---------------------------------------------------------

    async def open_stream(
        self,
        app_id: str,
        pubsub: str,
        topic: str,
        metadata: dict[str, str],
        dead_letter_topic: str | None,
    ) -> EventStream:
        """A new streaming subscription joins the app's consumer group on the topic."""
        settings = self.component(app_id, pubsub)
        if not topic:
            raise errors.bad_request(f"topic is empty in pubsub {pubsub}", "ERR_TOPIC_EMPTY")
        if not settings.can_subscribe(app_id, topic):
            raise errors.pubsub_forbidden(topic, app_id)
        key = GroupKey(app_id, pubsub, topic)
        stream = EventStream(key, dead_letter_topic, metadata)
        async with self._lock:
            taken = await self.store.register(key, _now_ms(), settings.retention_ms)
            await self.store.mark_streaming(key, None)
            self._stream_groups[key] = None
            self._streams.setdefault(key, []).append(stream)
        count = len(self._streams[key])
        self.metrics.streams.labels(app_id, pubsub, topic).set(count)
        log.info(
            "app %s opened a streaming subscription to %s/%s (%d open; %s message(s) waiting "
            "from before it subscribed)", app_id, pubsub, topic, count, taken or 0,
        )  # fmt: skip
        self._ensure_worker(key)
        self._wake_group(key)
        return stream

    async def close_stream(self, stream: EventStream) -> None:
        stream.close()
        key = stream.group
        async with self._lock:
            streams = self._streams.get(key, [])
            if stream in streams:
                streams.remove(stream)
            if not streams:
                self._streams.pop(key, None)
                if key in self._stream_groups:
                    self._stream_groups[key] = _now_ms()
                    await self.store.mark_streaming(key, self._stream_groups[key])
        left = len(self._streams.get(key, []))
        self.metrics.streams.labels(key.app_id, key.pubsub, key.topic).set(left)
        log.info(
            "a streaming subscription of app %s to %s/%s closed (%d still open)",
            key.app_id, key.pubsub, key.topic, left,
        )  # fmt: skip
        self._wake_group(key)

    def _next_stream(self, group: GroupKey) -> EventStream | None:
        streams = [s for s in self._streams.get(group, []) if not s.closed]
        if not streams:
            return None
        turn = self._turn.get(group, 0) % len(streams)
        self._turn[group] = turn + 1
        return streams[turn]

    # -- delivery ----------------------------------------------------------------------

    def _ensure_worker(self, group: GroupKey) -> None:
        self._wake.setdefault(group, asyncio.Event())
        worker = self._workers.get(group)
        if worker is None or worker.done():
            self._workers[group] = asyncio.create_task(
                self._work(group), name=f"deliver-{group.app_id}-{group.pubsub}-{group.topic}"
            )

    def _wake_group(self, group: GroupKey) -> None:
        event = self._wake.get(group)
        if event is not None:
            event.set()

    def _wake_app(self, app_id: str) -> None:
        for group, event in self._wake.items():
            if group.app_id == app_id:
                event.set()

    async def _sleep(self, group: GroupKey, seconds: float | None) -> None:
        wake = self._wake[group]
        # asyncio.timeout, not wait_for (which loses a cancellation on 3.11 when the
        # wake-up comes at the same moment): stop() cancels the workers.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wake.wait()

    async def _work(self, group: GroupKey) -> None:
        wake = self._wake[group]
        while not self._stopping:
            try:
                await self._step(group, wake)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery worker for %s failed; retrying in 1s", group)
                await asyncio.sleep(1)

    async def _step(self, group: GroupKey, wake: asyncio.Event) -> None:
        wake.clear()
        sub = self._active.get(group)
        channel = self.channels.get(group.app_id)
        streaming = bool(self._streams.get(group))
        if not streaming and (
            sub is None or channel is None or not channel.up or channel.base_url is None
        ):
            await self._sleep(group, None)
            return
        pending = await self.store.head(group)
        if pending is None:
            await self._sleep(group, None)
            return
        delay_ms = pending.next_attempt_at_ms - _now_ms()
        if delay_ms > 0:
            await self._sleep(group, delay_ms / 1000)
            return
        if pending.expires_at_ms is not None and pending.expires_at_ms <= _now_ms():
            await self.store.ack(group, pending.message_id)
            self._count(group, "expired")
            return
        if streaming:
            await self._deliver_to_stream(group, pending)
            return
        assert sub is not None
        assert channel is not None
        await self._deliver(group, sub, channel, pending)

    def _count(self, group: GroupKey, outcome: str) -> None:
        self.metrics.deliveries.labels(group.app_id, group.pubsub, group.topic, outcome).inc()

    def _event(self, group: GroupKey, pending: Pending) -> dict[str, Any]:
        if pending.is_raw:
            return cloudevents.wrap_raw(
                pending.body, pubsub=group.pubsub, topic=group.topic, message_id=pending.message_id
            )
        event: dict[str, Any] = json.loads(pending.body)
        return event

    async def _deliver(
        self, group: GroupKey, sub: ActiveSubscription, channel: AppChannel, pending: Pending
    ) -> None:
        event = self._event(group, pending)
        path = sub.route(event)
        if path is None:
            log.info(
                "no route of app %s matches message %s on %s/%s; dropped",
                group.app_id, event.get("id"), group.pubsub, group.topic,
            )  # fmt: skip
            await self.store.ack(group, pending.message_id)
            self._count(group, "no_route")
            return
        if sub.raw:
            body = pending.body
            content_type = pending.content_type
        else:
            body = cloudevents.envelope_bytes(event)
            content_type = cloudevents.CLOUDEVENTS_CONTENT_TYPE
        headers = {"content-type": content_type, **channel.headers()}
        for name in ("traceparent", "tracestate"):
            if isinstance(event.get(name), str):
                headers[name] = event[name]
        settings = self.components[group.pubsub]
        policy = self.resiliency.for_inbound(group.app_id, group.pubsub)
        timeout = policy.timeout_s or settings.delivery_timeout_s
        started = time.perf_counter()
        outcome = await self._post(f"{channel.base_url}{path}", body, headers, timeout)
        self.metrics.delivery_seconds.labels(group.app_id, group.pubsub, group.topic).observe(
            time.perf_counter() - started
        )
        await self._settle(
            group, pending, outcome, policy.retry or settings.retry, sub.dead_letter_topic, channel
        )

    async def _deliver_to_stream(self, group: GroupKey, pending: Pending) -> None:
        stream = self._next_stream(group)
        if stream is None:  # its last stream is closing right now
            await self._sleep(group, 0.05)
            return
        event = self._event(group, pending)
        settings = self.components[group.pubsub]
        policy = self.resiliency.for_inbound(group.app_id, group.pubsub)
        started = time.perf_counter()
        answer = await stream.deliver(event, policy.timeout_s or settings.delivery_timeout_s)
        if answer == CLOSED:
            log.info(
                "message %s on %s was in flight on a stream that closed; it is delivered again",
                pending.message_id, group,
            )  # fmt: skip
            return
        self.metrics.delivery_seconds.labels(group.app_id, group.pubsub, group.topic).observe(
            time.perf_counter() - started
        )
        outcome = {
            "SUCCESS": _Outcome("success"),
            "DROP": _Outcome("drop", "the subscriber answered DROP"),
            "RETRY": _Outcome("retry", "the subscriber answered RETRY"),
            TIMEOUT: _Outcome("retry", "no answer from the stream in time"),
        }.get(answer, _Outcome("retry", f"unknown answer {answer!r}"))
        await self._settle(
            group, pending, outcome, policy.retry or settings.retry, stream.dead_letter_topic, None
        )

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> _Outcome:
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=timeout_s
            )
        except httpx.ConnectError as exc:
            return _Outcome("app_down", str(exc) or "connection refused")
        except httpx.HTTPError as exc:
            return _Outcome("retry", f"{type(exc).__name__}: {exc}")
        if response.status_code == 404:
            return _Outcome("not_found", f"{url} answered 404")
        if not 200 <= response.status_code < 300:
            return _Outcome(
                "retry", f"{url} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            answer = response.json()
        except ValueError:
            return _Outcome("success")  # a 2xx without a JSON body is a success, as in daprd
        status = str(answer.get("status", "")).upper() if isinstance(answer, dict) else ""
        if status in ("", "SUCCESS"):
            return _Outcome("success")
        if status == "DROP":
            return _Outcome("drop", "the app answered DROP")
        if status == "RETRY":
            return _Outcome("retry", "the app answered RETRY")
        return _Outcome("retry", f"the app answered an unknown status {status!r}")

    async def _settle(
        self,
        group: GroupKey,
        pending: Pending,
        outcome: _Outcome,
        retry: RetryPolicy,
        dead_letter_topic: str | None,
        channel: AppChannel | None,
    ) -> None:
        if outcome.kind == "app_down":
            if channel is not None:
                channel.mark_down()  # not an attempt: delivery resumes when the app is back
            return
        if outcome.kind == "drop" and dead_letter_topic:
            # daprd (since 1.12) sends a message its subscriber DROPs to the dead-letter topic
            await self._dead_letter(group, pending, dead_letter_topic, 1, outcome.detail)
            return
        if outcome.kind in ("success", "drop", "not_found"):
            await self.store.ack(group, pending.message_id)
            self._count(group, outcome.kind)
            if outcome.kind == "drop":
                log.warning(
                    "message %s on %s dropped by app %s", pending.message_id, group, group.app_id
                )
            elif outcome.kind == "not_found":
                log.error("message %s on %s dropped: %s", pending.message_id, group, outcome.detail)
            return
        attempts = pending.attempts + 1
        if retry.may_retry(pending.attempts):
            next_at = _now_ms() + int(retry.delay(attempts) * 1000)
            await self.store.reschedule(
                group, pending.message_id, attempts, next_at, outcome.detail
            )
            self._count(group, "retry")
            log.info(
                "delivery of message %s to %s failed (%s); retry %d",
                pending.message_id, group.app_id, outcome.detail, attempts,
            )  # fmt: skip
            return
        if dead_letter_topic:
            await self._dead_letter(group, pending, dead_letter_topic, attempts, outcome.detail)
            return
        await self.store.park(group, pending, attempts, outcome.detail, _now_ms())
        self._count(group, "undeliverable")
        log.error(
            "message %s on %s could not be delivered after %d attempts (%s); kept in the "
            "undeliverable table", pending.message_id, group, attempts, outcome.detail,
        )  # fmt: skip

    async def _dead_letter(
        self, group: GroupKey, pending: Pending, topic: str, attempts: int, reason: str
    ) -> None:
        groups = await self.store.dead_letter(group, pending, topic, _now_ms())
        self._count(group, "dead_letter")
        log.warning(
            "message %s on %s moved to dead-letter topic %s after %d attempt(s): %s",
            pending.message_id, group, topic, attempts, reason,
        )  # fmt: skip
        for target in groups:
            self._wake_group(target)

    async def _forget_idle_stream_groups(self) -> None:
        """A group made by streams that stayed closed longer than ``unclaimedRetention`` is
        dropped with its pending messages (the app stopped subscribing)."""
        now = _now_ms()
        async with self._lock:
            for key, closed_at in list(self._stream_groups.items()):
                settings = self.components.get(key.pubsub)
                if closed_at is None or key in self._active or self._streams.get(key):
                    continue
                if settings is not None and now - closed_at < settings.retention_ms:
                    continue
                dropped = await self.store.unregister(key)
                del self._stream_groups[key]
                worker = self._workers.pop(key, None)
                if worker is not None:
                    worker.cancel()
                log.warning(
                    "no stream of app %s subscribed to %s/%s again within unclaimedRetention; "
                    "%d pending message(s) dropped", key.app_id, key.pubsub, key.topic, dropped,
                )  # fmt: skip

    async def _janitor_loop(self) -> None:
        while True:
            await asyncio.sleep(JANITOR_INTERVAL_S)
            retention = {name: s.retention_ms for name, s in self.components.items()}
            try:
                await self._forget_idle_stream_groups()
                removed = await self.store.expire_unclaimed(_now_ms(), retention)
            except Exception:
                log.exception("expiring unclaimed messages failed")
                continue
            if removed:
                log.info("%d unclaimed message(s) expired (no subscriber in time)", removed)
