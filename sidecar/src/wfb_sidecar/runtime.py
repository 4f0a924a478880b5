"""The sidecar process: one HTTP and one gRPC server per app of the run file.

Each app talks to "its" sidecar on its own ports, so the caller's app id is known from
the port it called, exactly as with one daprd per app. Behind the ports everything is
shared: one broker, one set of state stores, one workflow backend, one metrics registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import logging
import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import httpx
import uvicorn
from prometheus_client import CollectorRegistry

from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.config import AppConfig, SidecarConfig
from wfb_sidecar.errors import DaprError
from wfb_sidecar.invocation import AppTarget, Invoker
from wfb_sidecar.jobs.scheduler import JobScheduler
from wfb_sidecar.jobs.store import JobStore
from wfb_sidecar.metrics import PubSubQueueCollector, SidecarMetrics
from wfb_sidecar.pubsub.broker import Broker
from wfb_sidecar.pubsub.store import PubSubStore
from wfb_sidecar.pubsub.subscriptions import ActiveSubscription, parse_programmatic
from wfb_sidecar.resiliency import ResiliencyRegistry
from wfb_sidecar.state import SqliteStateStore

log = logging.getLogger(__name__)

VERSION = "wfb-sidecar/0.1.0"
DEFAULT_GRPC_SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
]
DISCOVERY_TIMEOUT_S = 5.0
# How long each step of stop() may take (19 s in all, within the 25 s ``wfb dev`` grants).
STOP_CHANNELS_S = 2.0
STOP_SERVERS_S = 8.0  # the HTTP servers' graceful shutdown is 5 s, gRPC's grace 3 s
STOP_ENGINES_S = 4.0
STOP_STORES_S = 3.0
STOP_CLIENTS_S = 2.0


class StartupError(RuntimeError):
    """The sidecar cannot start (a port in use, ...)."""


class WorkflowBackend(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def servicer(self, app_id: str) -> Any: ...


def load_workflow_module() -> Any | None:
    """``wfb_sidecar.workflow`` if it is installed (the workflow backend), else None."""
    if importlib.util.find_spec("wfb_sidecar.workflow") is None:
        return None
    return importlib.import_module("wfb_sidecar.workflow")


@dataclass
class AppRuntime:
    config: AppConfig
    channel: AppChannel
    state_stores: dict[str, SqliteStateStore]
    extended: dict[str, str] = field(default_factory=dict)
    discovery: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def app_id(self) -> str:
        return self.config.app_id


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the sidecar."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


def _bind(host: str, port: int, what: str) -> socket.socket:
    # proto=IPPROTO_TCP matters: accepted sockets inherit it, and asyncio only sets
    # TCP_NODELAY on sockets whose proto says TCP. Without it, a response written in two
    # parts (headers, then body) waits ~40 ms for the peer's delayed ACK (Nagle).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port} ({what}): {exc.strerror}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class Sidecar:
    def __init__(
        self,
        config: SidecarConfig,
        data_dir: Path,
        *,
        listen_address: str = "127.0.0.1",
        max_body_size: int = 4 * 1024 * 1024,
        probe_interval: float = 0.5,
        workflow_tuning: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.listen_address = listen_address
        self.max_body_size = max_body_size
        self.workflow_tuning = workflow_tuning or {}
        self.api_token = config.api_token
        self.registry = CollectorRegistry()
        self.metrics = SidecarMetrics(self.registry)
        self.resiliency = ResiliencyRegistry(config.resiliencies)
        self.state_stores = {
            name: SqliteStateStore(
                name, data_dir / f"state-{name}.db", s.key_prefix, s.actor_state_store
            )
            for name, s in config.state_stores.items()
        }
        self.apps: dict[str, AppRuntime] = {}
        channels: dict[str, AppChannel] = {}
        for app in config.apps:
            channel = AppChannel(
                app.app_id,
                app.spec.model_extra.get("appChannelAddress", "127.0.0.1")
                if app.spec.model_extra
                else "127.0.0.1",
                app.spec.app_port,
                token=config.app_api_token,
                interval=probe_interval,
            )
            channels[app.app_id] = channel
            stores = {
                c.name: self.state_stores[c.name] for c in app.components if c.block == "state"
            }
            self.apps[app.app_id] = AppRuntime(app, channel, stores)
        self.broker = Broker(
            PubSubStore(data_dir / "pubsub.db"),
            config.pubsubs,
            channels,
            self.resiliency,
            self.metrics,
        )
        self.jobs = JobScheduler(JobStore(data_dir / "jobs.db"), channels, self.metrics)
        acl = {
            a.app_id: a.configuration.spec.access_control if a.configuration else None
            for a in config.apps
        }
        self.invoker = Invoker(
            {i: AppTarget(i, c, acl[i]) for i, c in channels.items()}, self.resiliency, self.metrics
        )
        self.workflow: WorkflowBackend | None = None
        self.grpc_options = DEFAULT_GRPC_SERVER_OPTIONS
        self.ready = False
        self.left_behind: list[str] = []  # parts that did not stop in time (stop())
        self._http_servers: list[tuple[_Server, asyncio.Task[None]]] = []
        self._grpc_servers: list[grpc.aio.Server] = []
        self._discovery_client = httpx.AsyncClient(timeout=DISCOVERY_TIMEOUT_S)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sockets = [
            (app, _bind(self.listen_address, app.config.http_port, f"daprHTTPPort of {app.app_id}"))
            for app in self.apps.values()
        ]
        try:
            await self.broker.start()
            self.registry.register(
                PubSubQueueCollector(
                    self.broker.store.depths,
                    self.broker.store.unclaimed_counts,
                    self.broker.store.undeliverable_count,
                )
            )
            for store in self.state_stores.values():
                await store.open()
            await self.jobs.start()
            await self._start_workflow()
            for app in self.apps.values():
                await self.broker.add_subscriptions(app.app_id, app.config.declarative)
            for app, sock in sockets:
                await self._start_grpc(app)
                await self._start_http(app, sock)
        except BaseException:
            for _, sock in sockets:
                sock.close()
            raise
        for app in self.apps.values():
            app.channel.on_up(functools.partial(self.discover, app))
            app.channel.start()
        self.ready = True
        log.info(
            "sidecar ready: %s",
            ", ".join(
                f"{a.app_id} (http {a.config.http_port}, grpc {a.config.grpc_port})"
                for a in self.apps.values()
            ),
        )

    async def _start_workflow(self) -> None:
        module = load_workflow_module()
        if module is None:
            log.warning(
                "workflow backend not installed (wfb_sidecar.workflow is missing): the workflow "
                "API is unavailable; invocation, pub/sub, secrets and state work"
            )
            return
        self.grpc_options = list(module.GRPC_SERVER_OPTIONS)
        backend: WorkflowBackend = module.WorkflowBackend(
            self.data_dir / "workflows.db", metrics_registry=self.registry, **self.workflow_tuning
        )
        await backend.start()
        self.workflow = backend
        log.info("workflow backend started (%s)", self.data_dir / "workflows.db")

    async def _start_grpc(self, app: AppRuntime) -> None:
        from wfb_sidecar.grpc_api import ApiTokenInterceptor, add_servicers

        server = grpc.aio.server(
            options=self.grpc_options,
            interceptors=[ApiTokenInterceptor(self.api_token)] if self.api_token else None,
        )
        add_servicers(server, self, app)
        address = f"{self.listen_address}:{app.config.grpc_port}"
        try:
            server.add_insecure_port(address)
        except RuntimeError as exc:
            raise StartupError(
                f"cannot listen on {address} (daprGRPCPort of {app.app_id}): {exc}"
            ) from None
        await server.start()
        self._grpc_servers.append(server)

    async def _start_http(self, app: AppRuntime, sock: socket.socket) -> None:
        from wfb_sidecar.http_api import build_http_app

        config = uvicorn.Config(
            build_http_app(self, app),
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=30,
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http-{app.app_id}")
        while not server.started:
            if task.done():
                task.result()
                raise StartupError(f"the HTTP server of {app.app_id} stopped while starting")
            await asyncio.sleep(0.01)
        self._http_servers.append((server, task))

    async def stop(self) -> None:
        """Stop everything, each step bounded: a part that does not stop in time is named
        in a warning, left behind (see ``left_behind``) and the shutdown goes on."""
        self.ready = False
        for server, _ in self._http_servers:
            server.should_exit = True
        await self._stop_step(
            STOP_CHANNELS_S,
            {f"app channel of {a.app_id}": a.channel.stop() for a in self.apps.values()},
        )
        # Stop taking gRPC calls while the workflow backend ends its worker streams (which
        # would otherwise hold the servers for their whole grace period).
        servers: dict[str, Awaitable[Any]] = {
            "gRPC servers": asyncio.gather(*(s.stop(grace=3) for s in self._grpc_servers))
        }
        if self.workflow is not None:
            servers["workflow backend"] = self.workflow.stop()
        for _, task in self._http_servers:
            servers[f"HTTP server of {task.get_name().removeprefix('http-')}"] = task
        await self._stop_step(STOP_SERVERS_S, servers)
        await self._stop_step(
            STOP_ENGINES_S,
            {"jobs scheduler": self.jobs.stop(), "pub/sub broker": self.broker.stop()},
        )
        await self._stop_step(
            STOP_STORES_S, {f"state store {n}": s.close() for n, s in self.state_stores.items()}
        )
        await self._stop_step(
            STOP_CLIENTS_S,
            {
                "invocation client": self.invoker.close(),
                "discovery client": self._discovery_client.aclose(),
            },
        )
        if self.left_behind:
            log.warning(
                "sidecar stopped, but not cleanly: %s did not stop", ", ".join(self.left_behind)
            )
        else:
            log.info("sidecar stopped")

    async def _stop_step(self, limit_s: float, parts: dict[str, Awaitable[Any]]) -> None:
        """Stop ``parts`` side by side; give up on those still running after ``limit_s``."""
        tasks = {name: asyncio.ensure_future(part) for name, part in parts.items()}
        if not tasks:
            return
        await asyncio.wait(tasks.values(), timeout=limit_s)
        for name, task in tasks.items():
            if not task.done():
                task.cancel()
                self.left_behind.append(name)
                log.warning(
                    "stopping: %s did not stop within %.0fs; going on without it", name, limit_s
                )
            elif not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                log.warning("stopping: %s failed: %s: %s", name, type(exc).__name__, exc)

    # -- subscriptions -------------------------------------------------------------

    async def discover(self, app: AppRuntime) -> None:
        """Ask the app for its subscriptions (``GET /dapr/subscribe``) until it answers."""
        async with app.discovery:
            generation = app.channel.generation
            delay = 0.25
            while app.channel.up and app.channel.generation == generation:
                programmatic = await self._fetch_subscriptions(app)
                if programmatic is not None:
                    declared = {(s.pubsub, s.topic) for s in app.config.declarative}
                    merged = app.config.declarative + [
                        s for s in programmatic if (s.pubsub, s.topic) not in declared
                    ]
                    await self.broker.set_subscriptions(app.app_id, merged)
                    log.info(
                        "app %s subscriptions: %s",
                        app.app_id,
                        ", ".join(f"{s.pubsub}/{s.topic}" for s in merged) or "none",
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _fetch_subscriptions(self, app: AppRuntime) -> list[ActiveSubscription] | None:
        url = f"{app.channel.base_url}/dapr/subscribe"
        try:
            response = await self._discovery_client.get(url, headers=app.channel.headers())
        except httpx.HTTPError as exc:
            log.info(
                "asking %s for its subscriptions failed (%s: %s); retrying",
                app.app_id, type(exc).__name__, exc,
            )  # fmt: skip
            return None
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            log.warning(
                "%s answered %d to GET /dapr/subscribe; retrying", app.app_id, response.status_code
            )
            return None
        try:
            payload = response.json()
        except ValueError:
            log.error("%s: GET /dapr/subscribe did not return JSON; retrying", app.app_id)
            return None
        subs, problems = parse_programmatic(app.app_id, payload)
        for problem in problems:
            log.error("app %s: %s", app.app_id, problem)
        return subs

    # -- secrets -------------------------------------------------------------------

    def read_secret(self, app: AppRuntime, store: str, key: str) -> dict[str, str]:
        try:
            data = app.config.secrets.get(store, key)
        except DaprError as exc:
            self._count_secret(app, store, exc)
            raise
        self.metrics.secret_requests.labels(app.app_id, store, "ok").inc()
        return data

    def read_bulk_secret(self, app: AppRuntime, store: str) -> dict[str, dict[str, str]]:
        try:
            data = app.config.secrets.bulk(store)
        except DaprError as exc:
            self._count_secret(app, store, exc)
            raise
        self.metrics.secret_requests.labels(app.app_id, store, "ok").inc()
        return data

    def _count_secret(self, app: AppRuntime, store: str, exc: DaprError) -> None:
        outcome = {
            "ERR_PERMISSION_DENIED": "denied",
            "ERR_SECRET_GET": "not_found",
            "ERR_SECRET_STORE_NOT_FOUND": "unknown_store",
        }.get(exc.error_code, "error")
        label = store if store in app.config.secrets.stores else "<unknown>"
        self.metrics.secret_requests.labels(app.app_id, label, outcome).inc()

    # -- metadata ------------------------------------------------------------------

    def metadata(self, app: AppRuntime) -> dict[str, Any]:
        """The ``/v1.0/metadata`` document of one app's sidecar."""
        components = [
            {
                "name": c.name,
                "type": c.type,
                "version": c.spec.version,
                "capabilities": capabilities(c.type),
            }
            for c in app.config.components
        ]
        return {
            "id": app.app_id,
            "runtimeVersion": VERSION,
            "enabledFeatures": [],
            "actors": [],
            "components": components,
            "httpEndpoints": [],
            "subscriptions": [s.describe() for s in self.broker.subscriptions_of(app.app_id)],
            "extended": {**app.extended, "daprRuntimeVersion": VERSION},
            "appConnectionProperties": {
                "port": app.config.spec.app_port or 0,
                "protocol": "http",
                "channelAddress": app.channel.host,
                "health": {"healthProbeInterval": f"{app.channel.interval}s"},
            },
            "workflows": {"backend": "sqlite" if self.workflow is not None else "unavailable"},
        }


def capabilities(component_type: str) -> list[str]:
    if component_type == "state.sqlite":
        return ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"]
    if component_type.startswith("pubsub."):
        return ["TTL"]
    return []
