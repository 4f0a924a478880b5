"""Liveness (``/healthz``) and readiness (``/readyz``) with pluggable checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

ReadinessCheck = Callable[[], Awaitable[None]]
"""Raises (any exception) when the dependency it checks is not usable."""


class CheckResult(BaseModel):
    ok: bool
    duration_ms: float
    error: str | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, CheckResult]


class ReadinessRegistry:
    def __init__(self, timeout_s: float = 2.0) -> None:
        self._checks: dict[str, ReadinessCheck] = {}
        self.timeout_s = timeout_s

    def add(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def run(self) -> Readiness:
        results = await asyncio.gather(*(self._one(c) for c in self._checks.values()))
        checks = dict(zip(self._checks, results, strict=True))
        return Readiness(
            status="ready" if all(r.ok for r in checks.values()) else "not ready",
            checks=checks,
        )

    async def _one(self, check: ReadinessCheck) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                await check()
        except Exception as exc:  # any failure means "not ready", with its reason
            reason = str(exc) or type(exc).__name__
            return CheckResult(ok=False, duration_ms=_ms(started), error=reason[:300])
        return CheckResult(ok=True, duration_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def dapr_sidecar_check(http_endpoint: str) -> ReadinessCheck:
    """Ready when the Dapr sidecar answers its outbound health endpoint."""

    async def check() -> None:
        async with httpx.AsyncClient(timeout=1.5) as client:
            response = await client.get(f"{http_endpoint}/v1.0/healthz/outbound")
            if response.status_code >= 300:
                raise RuntimeError(f"dapr sidecar answered {response.status_code}")

    return check


def health_router(registry: ReadinessRegistry) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency (database, sidecar) is usable",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "a dependency is not usable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        result = await registry.run()
        return JSONResponse(
            result.model_dump(), status_code=200 if result.status == "ready" else 503
        )

    return router
