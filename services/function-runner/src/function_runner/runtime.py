"""Everything a request needs, built once in the app's lifespan (``app.state.runtime``)."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from function_runner.builtins.base import BuiltinFunction, OciRunner
from function_runner.credentials.service import CredentialResolver, CredentialStore
from function_runner.execute.concurrency import ConcurrencyLimiter
from function_runner.execute.metrics import ExecutionMetrics
from function_runner.functions.service import FunctionRegistry
from function_runner.net.client import GuardedHttpClient
from function_runner.net.ssrf import SsrfPolicy
from function_runner.settings import Settings

_log = logging.getLogger(__name__)
OCI_MODULE = "function_runner.executors.oci"


def load_oci_runner() -> OciRunner | None:
    """``run_oci_function`` of the OCI executor, when that module is installed."""
    if importlib.util.find_spec(OCI_MODULE) is None:
        return None
    module = importlib.import_module(OCI_MODULE)
    runner: OciRunner | None = getattr(module, "run_oci_function", None)
    return runner


def ssrf_policy(settings: Settings) -> SsrfPolicy:
    return SsrfPolicy.build(
        allowed_ports=settings.ssrf_allowed_ports,
        allow_hosts=settings.ssrf_allow_hosts,
        allow_cidrs=settings.ssrf_allow_cidrs,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    registry: FunctionRegistry
    builtins: dict[str, BuiltinFunction]
    http: httpx.AsyncClient
    safe_http: GuardedHttpClient
    limiter: ConcurrencyLimiter
    credential_store: CredentialStore
    credentials: CredentialResolver
    metrics: ExecutionMetrics
    oci_runner: OciRunner | None
    started: float = field(default_factory=time.monotonic)

    async def aclose(self) -> None:
        await self.safe_http.aclose()
        await self.http.aclose()
        await self.limiter.aclose()
