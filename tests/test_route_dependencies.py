"""Every FastAPI dependency of every service is a coroutine function (or a class).

FastAPI runs a plain ``def`` dependency on its thread pool: a thread hop and a GIL
hand-over on every request for what is usually a read of ``app.state``. Measured on
function-runner's ``/execute``, two such dependencies cost about 0.3 ms of its 2 ms.
Classes (query-parameter models) are exempt: they are constructed, not called.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

pytestmark = pytest.mark.unit

APPS = ["orchestrator.app", "function_runner.app", "admin_api.app", "builder_bff.app"]


def _routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        yield route
        inner = getattr(route, "routes", None) or getattr(
            getattr(route, "original_router", None), "routes", None
        )
        if inner:
            yield from _routes(inner)


def _sync_functions(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        call = dependency.call
        if (
            call is not None
            and inspect.isfunction(call)
            and not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
        ):
            yield f"{call.__module__}.{call.__qualname__}"
        yield from _sync_functions(dependency)


@pytest.mark.parametrize("module", APPS)
def test_no_route_depends_on_a_plain_function(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFB_DATA_DIR", str(tmp_path))
    app = importlib.import_module(module).create_app()
    offenders: dict[str, set[str]] = {}
    routes = [r for r in _routes(app.routes) if isinstance(r, APIRoute)]
    assert routes, f"{module} exposes no API routes: the walk is broken"
    for route in routes:
        for name in _sync_functions(route.dependant):
            offenders.setdefault(name, set()).add(route.path)
    assert offenders == {}, "make these `async def` (FastAPI runs plain ones on a thread)"
