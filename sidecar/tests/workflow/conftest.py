from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dapr.ext.workflow as wf
import pytest

from .apps import register
from .harness import BackendThread

# The SDK logs every work item at INFO; keep test output readable.
logging.getLogger("durabletask-worker").setLevel(logging.WARNING)


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendThread]:
    backend = BackendThread(
        tmp_path_factory.mktemp("wf") / "workflows.db", health_ping_seconds=0.5
    ).start()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def runtime(sidecar: BackendThread) -> Iterator[wf.WorkflowRuntime]:
    rt = wf.WorkflowRuntime(host="127.0.0.1", port=str(sidecar.port))
    register(rt)
    rt.start()
    yield rt
    rt.shutdown()


@pytest.fixture(scope="module")
def client(sidecar: BackendThread, runtime: wf.WorkflowRuntime) -> Iterator[wf.DaprWorkflowClient]:
    c = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.port))
    yield c
    c.close()


@pytest.fixture
def new_id(request: pytest.FixtureRequest) -> Callable[[], str]:
    prefix = request.node.name.replace("[", "-").replace("]", "")[:40]

    def make() -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
