"""Stopping the jobs scheduler and the broker while their app goes down (unit).

The app's port closing wakes their loops at the very moment the sidecar cancels them.
The cancellation must win: on Python 3.11, ``asyncio.wait_for`` returned the wake-up
instead, the loop went on (now waiting for the app with no timeout) and ``stop()``, and
so the sidecar's shutdown, waited forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.jobs.model import JobSpec
from wfb_sidecar.jobs.scheduler import JobScheduler
from wfb_sidecar.jobs.store import JobStore
from wfb_sidecar.metrics import SidecarMetrics
from wfb_sidecar.pubsub.broker import Broker, PubSubSettings, PublishEntry
from wfb_sidecar.pubsub.store import GroupKey, PubSubStore
from wfb_sidecar.pubsub.subscriptions import ActiveSubscription
from wfb_sidecar.resiliency import ResiliencyRegistry
from wfb_sidecar.testing import free_port

pytestmark = pytest.mark.unit


def _channel() -> AppChannel:
    """A channel that believes its app is up (nothing probes it: the test decides)."""
    channel = AppChannel("app", "127.0.0.1", free_port())
    channel.up = True
    return channel


async def _settle() -> None:
    """Let the loops under test reach their next wait."""
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)


async def _stops(stop: Awaitable[None]) -> bool:
    task = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:
        task.cancel()
    return bool(done)


async def test_jobs_scheduler_stops_when_the_app_goes_down_at_that_moment(
    tmp_path: Path,
) -> None:
    channel = _channel()
    jobs = JobScheduler(
        JobStore(tmp_path / "jobs.db"), {"app": channel}, SidecarMetrics(CollectorRegistry())
    )
    await jobs.start()
    await jobs.schedule("app", JobSpec(name="later", due_time="1h"), overwrite=False)
    await _settle()  # the loop sleeps until the job is due (a wait with a timeout)
    channel.mark_down()  # wakes the loop ...
    assert await _stops(jobs.stop()), "the jobs scheduler did not stop"  # ... as it stops
    assert jobs.get("app", "later").attempt_at is not None  # kept for the next start


async def test_broker_stops_when_the_app_goes_down_with_a_delivery_waiting_to_retry(
    tmp_path: Path,
) -> None:
    channel = _channel()
    channel.up = False
    store = PubSubStore(tmp_path / "pubsub.db")
    broker = Broker(
        store,
        {"ps": PubSubSettings.from_metadata("ps", {}, [], "test")},
        {"app": channel},
        ResiliencyRegistry([]),
        SidecarMetrics(CollectorRegistry()),
    )
    await broker.start()
    group = GroupKey("app", "ps", "orders")
    await broker.add_subscriptions(
        "app", [ActiveSubscription("app", "ps", "orders", [], "/orders", kind="DECLARATIVE")]
    )
    (first,) = await broker.publish("app", "ps", "orders", [PublishEntry(b'{"n": 1}')])
    await store.reschedule(group, first, 1, 2**62, "the app answered 500")  # retry much later
    channel.up = True
    await broker.publish("app", "ps", "orders", [PublishEntry(b'{"n": 2}')])  # wakes the worker
    await _settle()  # the worker waits for the retry time of the first message
    channel.mark_down()  # wakes the worker ...
    assert await _stops(broker.stop()), "the broker did not stop"  # ... as it stops
