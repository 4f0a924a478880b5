"""Fixtures of the executor tests: the fake Kubernetes API and an execution context."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from function_runner.builtins.base import ExecutionContext
from function_runner.settings import Settings


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fake_kube = _load("fr_fake_kube", Path(__file__).with_name("fake_kube.py"))


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Any]:
    fake = fake_kube.FakeKube()
    async with fake_kube.serve(fake.app()) as url:
        fake.url = url
        try:
            yield fake
        finally:
            await fake.close()


@pytest.fixture
def oci_settings(kube: Any, tmp_path: Path) -> Settings:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    return Settings(
        data_dir=tmp_path,
        require_sidecar=False,
        kubeconfig=str(kubeconfig),
        k8s_namespace="wfb-jobs",
        oci_unschedulable_timeout_seconds=0.5,
        oci_watch_timeout_seconds=5,
    )


@pytest.fixture
async def make_ctx(oci_settings: Settings) -> AsyncIterator[Callable[..., ExecutionContext]]:
    async with httpx.AsyncClient() as http:

        def make(
            *,
            credentials: dict[str, str] | None = None,
            timeout: float = 20.0,
            attempt: int = 1,
            execution_id: str = "exec-1234",
            node_id: str = "resize-image",
            settings: Settings | None = None,
        ) -> ExecutionContext:
            return ExecutionContext(
                execution_id=execution_id,
                workflow_id="wf-42",
                node_id=node_id,
                node_name="Resize Image",
                attempt=attempt,
                credentials=credentials or {},
                deadline=time.monotonic() + timeout,
                http=http,
                safe_http=None,  # type: ignore[arg-type]  # OCI runs never fetch user URLs
                settings=settings or oci_settings,
                log=logging.LoggerAdapter(logging.getLogger("test.oci")),
            )

        yield make
