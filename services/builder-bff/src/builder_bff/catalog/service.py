"""The function catalog (function-runner's registry) as the UI and validation need it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from builder_bff.admin.access import items_of
from builder_bff.session.deps import Session
from workflow_core.schemas import FunctionCatalog, FunctionSpec

FUNCTIONS_PATH = "/functions"


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def normalize_function(raw: dict[str, Any]) -> dict[str, Any]:
    """function-runner's row with camelCase keys (``plugin_id`` -> ``pluginId``)."""
    out = {camel(k): v for k, v in raw.items()}
    if "pluginId" not in out and isinstance(out.get("slug"), str) and "/" in out["slug"]:
        out["pluginId"] = out["slug"].split("/", 1)[0]
    out.setdefault("name", out.get("slug"))
    return out


PAGE_SIZE = 500
MAX_PAGES = 20


async def _all_pages(session: Session) -> list[dict[str, Any]]:
    """Every function, following function-runner's ``next_cursor``."""
    app = session.state.settings.function_runner_app_id
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        body = await session.service_json(
            app, "GET", FUNCTIONS_PATH, params={"limit": PAGE_SIZE, "cursor": cursor}
        )
        found += items_of(body)
        cursor = (
            body.get("next_cursor") or body.get("nextCursor") if isinstance(body, dict) else None
        )
        if not cursor:
            break
    return found


class CatalogCache:
    """A short-lived cache of the registry: the editor and every validation read it."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._at = 0.0
        self._functions: list[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._functions = None

    async def functions(self, session: Session) -> list[dict[str, Any]]:
        async with self._lock:
            if self._functions is not None and time.monotonic() - self._at < self.ttl:
                return self._functions
            self._functions = [normalize_function(f) for f in await _all_pages(session)]
            self._at = time.monotonic()
            return self._functions

    async def catalog(self, session: Session) -> FunctionCatalog:
        return {
            f["slug"]: FunctionSpec(
                slug=f["slug"],
                input_schema=f.get("inputSchema")
                if isinstance(f.get("inputSchema"), dict)
                else None,
                output_schema=f.get("outputSchema")
                if isinstance(f.get("outputSchema"), dict)
                else None,
            )
            for f in await self.functions(session)
            if isinstance(f.get("slug"), str)
        }
