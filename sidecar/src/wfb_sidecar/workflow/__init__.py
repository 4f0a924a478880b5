"""The local sidecar's durable workflow backend: Dapr's ``TaskHubSidecarService`` gRPC
protocol, served to the official SDK's ``WorkflowRuntime`` and ``DaprWorkflowClient``,
with all state in SQLite.

Usage (one gRPC server per app, as ``daprd`` has)::

    backend = WorkflowBackend(data_dir / "workflows.db", metrics_registry=registry)
    await backend.start()
    server = grpc.aio.server(options=GRPC_SERVER_OPTIONS)
    add_TaskHubSidecarServiceServicer_to_server(backend.servicer("my-app"), server)
    ...
    await backend.stop()
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from .engine import Engine
from .protos import pb_grpc
from .servicer import WorkflowServicer
from .store import Store

__all__ = [
    "GRPC_SERVER_OPTIONS",
    "WorkflowBackend",
    "WorkflowServicer",
    "add_TaskHubSidecarServiceServicer_to_server",
]

log = logging.getLogger(__name__)


def add_TaskHubSidecarServiceServicer_to_server(servicer: WorkflowServicer, server: Any) -> None:
    """Register a servicer on a ``grpc.aio.Server`` (the SDK's generated helper)."""
    pb_grpc.add_TaskHubSidecarServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]


_MiB = 1024 * 1024

# Every gRPC server that hosts the workflow API must use these. The SDK's channels send a
# keepalive ping every 30 s even when idle; a server that rejects such pings (the gRPC
# default allows one per 5 minutes without calls, and counts "strikes") answers with
# GOAWAY and the worker reconnects over and over.
GRPC_SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.http2.max_pings_without_data", 0),
    # The server pings idle connections too, so a vanished worker is noticed.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.max_receive_message_length", 16 * _MiB),
    ("grpc.max_send_message_length", 16 * _MiB),
    # Never share a port with another process's server.
    ("grpc.so_reuseport", 0),
]


class WorkflowBackend:
    """Durable workflow state for every app of the sidecar, in one SQLite database.

    Tuning keywords: ``synchronous`` (SQLite's ``FULL``, the default, or ``NORMAL``),
    ``turn_lease_seconds`` (re-dispatch a turn whose result has not arrived, default 120),
    ``health_ping_seconds`` (default 15), ``max_turns_per_stream`` (turns outstanding on
    one worker stream, default 500; more wait here, where no lease runs), ``dispatch_batch``,
    ``timer_batch``, ``max_write_batch``.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        metrics_registry: CollectorRegistry | None = None,
        **tuning: Any,
    ) -> None:
        known = {
            "synchronous",
            "turn_lease_seconds",
            "health_ping_seconds",
            "dispatch_batch",
            "timer_batch",
            "max_write_batch",
            "max_turns_per_stream",
        }
        unknown = set(tuning) - known
        if unknown:
            raise TypeError(f"unknown workflow backend options: {', '.join(sorted(unknown))}")
        self.db_path = Path(db_path)
        self.store = Store(
            self.db_path,
            synchronous=tuning.get("synchronous", "FULL"),
            max_batch=tuning.get("max_write_batch", 256),
        )
        engine_options = {
            k: tuning[k]
            for k in (
                "turn_lease_seconds",
                "health_ping_seconds",
                "dispatch_batch",
                "timer_batch",
                "max_turns_per_stream",
            )
            if k in tuning
        }
        self.registry = metrics_registry if metrics_registry is not None else CollectorRegistry()
        self.engine = Engine(self.store, self.registry, **engine_options)
        self._servicers: dict[str, WorkflowServicer] = {}
        self._started = False

    async def start(self) -> None:
        """Open (and migrate) the database, recover unfinished work, start the timers."""
        if self._started:
            return
        loop = asyncio.get_running_loop()
        self.store.open(loop)
        await self.engine.start()
        self._started = True
        log.info("workflow backend started on %s", self.db_path)

    async def stop(self) -> None:
        """Stop dispatching, end the worker streams and close the database."""
        if not self._started:
            return
        self._started = False
        await self.engine.stop()
        await self.store.close()
        log.info("workflow backend stopped")

    def servicer(self, app_id: str) -> WorkflowServicer:
        """The ``TaskHubSidecarService`` servicer for one app's gRPC server."""
        if not app_id:
            raise ValueError("an app id is required")
        servicer = self._servicers.get(app_id)
        if servicer is None:
            servicer = self._servicers[app_id] = WorkflowServicer(self.engine, app_id)
        return servicer
