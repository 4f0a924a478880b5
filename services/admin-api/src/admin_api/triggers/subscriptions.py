"""Dapr streaming subscriptions (``SubscribeTopicEventsAlpha1`` through the SDK's
``DaprClient.subscribe``): one stream per distinct (pubsub, topic) of the active event
triggers, opened and closed as triggers change, reopened with back-off after an error.
Nothing needs declaring in ``/dapr/subscribe``: the app asks for topics at run time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from admin_api.triggers.events import Ack, Incoming, from_parts

_log = logging.getLogger("admin_api.triggers.subscriptions")
Topic = tuple[str, str]


class Stream(Protocol):
    async def next(self) -> tuple[Any, Incoming]: ...

    async def respond(self, message: Any, ack: Ack) -> None: ...

    async def close(self) -> None: ...


Opener = Callable[[str, str], Awaitable[Stream]]


class DaprStream:
    """One SDK streaming subscription."""

    def __init__(self, subscription: Any, pubsub: str, topic: str) -> None:
        self.subscription = subscription
        self.pubsub = pubsub
        self.topic = topic

    async def next(self) -> tuple[Any, Incoming]:
        message = await self.subscription.next_message()
        attributes = {
            **(message.extensions() or {}),
            "id": message.id(),
            "source": message.source(),
            "type": message.type(),
            "specversion": message.spec_version(),
        }
        incoming = from_parts(
            message.pubsub_name() or self.pubsub,
            message.topic() or self.topic,
            attributes,
            message.raw_data() or b"",
            message.data_content_type(),
        )
        return message, incoming

    async def respond(self, message: Any, ack: Ack) -> None:
        if ack == "success":
            await self.subscription.respond_success(message)
        else:
            await self.subscription.respond_retry(message)

    async def close(self) -> None:
        await self.subscription.close()


class DaprOpener:
    """Opens SDK subscriptions on the sidecar's gRPC port (one client for all)."""

    def __init__(self, address: str, health_url: str, http: httpx.AsyncClient) -> None:
        self.address = address
        self.health_url = health_url
        self.http = http
        self._client: Any = None

    async def __call__(self, pubsub: str, topic: str) -> Stream:
        if self._client is None:
            # the SDK's constructor blocks until the sidecar is healthy: ask first, so it
            # returns at once (or we back off without blocking the event loop)
            response = await self.http.get(self.health_url, timeout=5)
            if response.status_code >= 300:
                raise ConnectionError(f"the Dapr sidecar is not healthy ({response.status_code})")
            from dapr.aio.clients import DaprClient

            self._client = DaprClient(self.address)
        subscription = await self._client.subscribe(pubsub_name=pubsub, topic=topic)
        return DaprStream(subscription, pubsub, topic)

    async def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None


class EventSubscriptions:
    """The set of open streams, kept equal to the wanted (pubsub, topic) pairs."""

    def __init__(
        self,
        handler: Callable[[Incoming], Awaitable[Ack]],
        opener: Opener,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.handler = handler
        self.opener = opener
        self.max_backoff_s = max_backoff_s
        self.tasks: dict[Topic, asyncio.Task[None]] = {}
        self.errors: dict[Topic, str] = {}
        self.open_streams: set[Topic] = set()

    async def refresh(self, wanted: set[Topic]) -> None:
        for topic in set(self.tasks) - wanted:
            task = self.tasks.pop(topic)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            self.errors.pop(topic, None)
            _log.info("unsubscribed from %s/%s", *topic)
        for topic in wanted - set(self.tasks):
            self.tasks[topic] = asyncio.create_task(
                self._consume(*topic), name=f"subscription {topic[0]}/{topic[1]}"
            )

    async def close(self) -> None:
        await self.refresh(set())
        closer = getattr(self.opener, "close", None)
        if closer is not None:
            await closer()

    async def _consume(self, pubsub: str, topic: str) -> None:
        attempt = 0
        while True:
            stream: Stream | None = None
            try:
                stream = await self.opener(pubsub, topic)
                self.open_streams.add((pubsub, topic))
                self.errors.pop((pubsub, topic), None)
                _log.info("subscribed to %s/%s (streaming)", pubsub, topic)
                attempt = 0
                while True:
                    message, incoming = await stream.next()
                    await stream.respond(message, await self._handle(incoming))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream broke: reopen it after a pause
                attempt += 1
                self.errors[(pubsub, topic)] = f"{type(exc).__name__}: {exc}"
                delay = min(self.max_backoff_s, 0.5 * 2 ** min(attempt, 10))
                _log.warning(
                    "subscription %s/%s failed (%s); reopening in %.1f s",
                    pubsub,
                    topic,
                    exc,
                    delay,
                )
                await asyncio.sleep(random.uniform(delay / 2, delay))  # noqa: S311 - jitter
            finally:
                self.open_streams.discard((pubsub, topic))
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.close()

    async def _handle(self, incoming: Incoming) -> Ack:
        try:
            return await self.handler(incoming)
        except Exception:
            _log.exception("handling an event of %s/%s failed", incoming.pubsub, incoming.topic)
            return "retry"
