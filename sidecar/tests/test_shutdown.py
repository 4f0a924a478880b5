"""Stopping the sidecar's parts (unit, in process).

The app's port closing wakes the jobs scheduler's and the broker's loops at the very
moment the sidecar cancels them. The cancellation must win: on Python 3.11,
``asyncio.wait_for`` returned the wake-up instead, the loop went on (now waiting for the
app with no timeout) and ``stop()``, and so the sidecar's shutdown, waited forever. And
whatever a part does, ``Sidecar.stop()`` is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from wfb_sidecar import runtime
from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.config import build_config
from wfb_sidecar.jobs.model import JobSpec
from wfb_sidecar.jobs.scheduler import JobScheduler
from wfb_sidecar.jobs.store import JobStore
from wfb_sidecar.metrics import SidecarMetrics
from wfb_sidecar.pubsub.broker import Broker, PublishEntry, PubSubSettings
from wfb_sidecar.pubsub.store import GroupKey, PubSubStore
from wfb_sidecar.pubsub.subscriptions import ActiveSubscription
from wfb_sidecar.resiliency import ResiliencyRegistry
from wfb_sidecar.runfile import load_run_file
from wfb_sidecar.runtime import Sidecar
from wfb_sidecar.testing import AppPorts, SidecarProcess, free_port

pytestmark = pytest.mark.unit

PUBSUB = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "pubsub"},
    "spec": {"type": "pubsub.in-memory", "version": "v1"},
}


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


async def test_sidecar_stop_goes_on_past_a_part_that_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A part that never stops (it even ignores cancellation) is named in a warning and
    left behind; the parts after it still stop, and stop() returns."""
    files = SidecarProcess(tmp_path, [AppPorts("svc", None)], {"pubsub.yaml": [PUBSUB]})
    sidecar = Sidecar(build_config(load_run_file(files.run_file)), files.data_dir)
    await sidecar.start()
    monkeypatch.setattr(runtime, "STOP_ENGINES_S", 0.2)
    released = asyncio.Event()
    real_stop = sidecar.jobs.stop

    async def stuck() -> None:
        while not released.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await released.wait()

    monkeypatch.setattr(sidecar.jobs, "stop", stuck)
    try:
        with caplog.at_level(logging.INFO, logger="wfb_sidecar.runtime"):
            assert await _stops(sidecar.stop()), "stop() hung on the stuck part"
        assert sidecar.left_behind == ["jobs scheduler"]
        assert "stopping: jobs scheduler did not stop within" in caplog.text
        assert "sidecar stopped, but not cleanly: jobs scheduler did not stop" in caplog.text
        with pytest.raises(RuntimeError):  # the parts after it were stopped
            await sidecar.broker.store.groups()
        assert sidecar.invoker.closed
    finally:
        released.set()
        await real_stop()
