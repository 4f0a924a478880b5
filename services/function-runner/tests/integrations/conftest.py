"""Fixtures of the integration tests: every vendor fake on one loopback server, and an
execution context pointing each plugin at its fake."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from function_runner.builtins.base import ExecutionContext
from function_runner.settings import Settings


def _load_package(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fakes = _load_package("fr_vendor_fakes", Path(__file__).parent / "fakes")


@pytest.fixture(scope="session")
def vendor_server() -> Iterator[tuple[str, Any]]:
    recorder = fakes.Recorder()
    with fakes.serve_in_thread(fakes.build_app(recorder)) as url:
        yield url, recorder


@pytest.fixture
def recorder(vendor_server: tuple[str, Any]) -> Any:
    _, rec = vendor_server
    rec.calls.clear()
    return rec


@pytest.fixture
def vendor_settings(vendor_server: tuple[str, Any], tmp_path: Path) -> Settings:
    url, _ = vendor_server
    bases = {plugin: f"{url}{path}" for plugin, path in fakes.BASE_PATHS.items()}
    return Settings(data_dir=tmp_path, require_sidecar=False, integration_base_urls=bases)


@pytest.fixture
async def make_ctx(vendor_settings: Settings) -> AsyncIterator[Callable[..., ExecutionContext]]:
    async with httpx.AsyncClient() as http:

        def make(
            credentials: dict[str, str] | None = None,
            *,
            timeout: float = 30.0,
            attempt: int = 1,
            execution_id: str | None = None,
            idempotency_key: str | None = None,
            settings: Settings | None = None,
        ) -> ExecutionContext:
            return ExecutionContext(
                execution_id=execution_id or f"exec-{uuid.uuid4().hex[:8]}",
                workflow_id="wf-1",
                node_id="node-9",
                node_name="Step",
                attempt=attempt,
                credentials=credentials or {},
                deadline=time.monotonic() + timeout,
                http=http,
                safe_http=None,  # type: ignore[arg-type]  # integrations call fixed API hosts
                settings=settings or vendor_settings,
                log=logging.LoggerAdapter(logging.getLogger("test.integrations")),
                idempotency_key=idempotency_key,
            )

        yield make
