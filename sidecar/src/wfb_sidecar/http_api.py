"""Dapr's HTTP API (``/v1.0/...``) for one app, as a Starlette application.

Errors are Dapr's JSON (``{"errorCode": ..., "message": ...}``) with daprd's status
codes. A request carrying a ``dapr-app-id`` header to a path outside ``/v1.0`` is
proxied to that app, as daprd does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from wfb_sidecar import errors
from wfb_sidecar.invocation import Upstream
from wfb_sidecar.jobs.model import JobSpec, check_name, job_json, json_to_data, parse_policy_json
from wfb_sidecar.jobs.model import invalid as invalid_job
from wfb_sidecar.jobs.model import scheduler_error as job_error
from wfb_sidecar.pubsub.broker import PublishEntry
from wfb_sidecar.pubsub.cloudevents import is_json_type
from wfb_sidecar.state import DeleteOp, SetOp, SqliteStateStore

if TYPE_CHECKING:
    from wfb_sidecar.runtime import AppRuntime, Sidecar

M = TypeVar("M", bound=BaseModel)
BUFFER_LIMIT = 1024 * 1024  # request bodies up to this size are read at once when forwarded
INVOKE_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


class _Relay(StreamingResponse):
    """Streams the target app's answer to the caller. The upstream connection is let go
    however the stream ends: read to its end, or the caller gone mid-stream or before the
    first chunk (then the body's generator never ran, and its own cleanup would not)."""

    def __init__(self, upstream: Upstream) -> None:
        super().__init__(upstream.chunks(), status_code=upstream.status)
        self._upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._upstream.close()


def _error(exc: errors.DaprError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.http_status)


async def _dapr_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DaprError)
    return _error(exc)


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise errors.body_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.body_too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _query_metadata(request: Request) -> dict[str, str]:
    return {
        key.removeprefix("metadata."): value
        for key, value in request.query_params.multi_items()
        if key.startswith("metadata.")
    }


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"failed deserializing HTTP body: {exc}") from None


class _StateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: str = "last-write"
    consistency: str = "eventual"


class _StateItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1)
    value: Any = None
    etag: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    options: _StateOptions | None = None


class _TransactionOp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operation: str
    request: _StateItem


class _Transaction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operations: list[_TransactionOp]
    metadata: dict[str, str] = Field(default_factory=dict)


class _BulkGet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[str]
    parallelism: int | None = None


class _BulkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    entry_id: str = Field(alias="entryId", min_length=1)
    event: Any
    content_type: str = Field(alias="contentType", default="application/json")
    metadata: dict[str, str] = Field(default_factory=dict)


class _JobRequest(BaseModel):
    """The HTTP Jobs API body (protojson: camelCase and the proto's snake_case names)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    schedule: str | None = None
    repeats: int | None = None
    due_time: str | None = Field(None, validation_alias=AliasChoices("dueTime", "due_time"))
    ttl: str | None = None
    data: Any = None
    overwrite: bool = False
    failure_policy: Any = Field(
        None, validation_alias=AliasChoices("failurePolicy", "failure_policy")
    )


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise errors.bad_request(f"invalid request body: {where}: {first['msg']}") from None


class Api:
    def __init__(self, sidecar: Sidecar, app: AppRuntime) -> None:
        self.sidecar = sidecar
        self.app = app

    # -- health and metadata ---------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        appid = request.query_params.get("appid")
        if appid and appid != self.app.app_id:
            raise errors.DaprError("ERR_HEALTH_APPID_NOT_MATCH", "dapr app-id does not match")
        if not self.sidecar.ready:
            raise errors.DaprError("ERR_HEALTH_NOT_READY", "dapr is not ready")
        return Response(status_code=204)

    async def healthz_outbound(self, request: Request) -> Response:
        if not self.sidecar.ready:
            raise errors.DaprError("ERR_OUTBOUND_HEALTH_NOT_READY", "dapr outbound is not ready")
        return Response(status_code=204)

    async def metadata(self, request: Request) -> Response:
        return JSONResponse(self.sidecar.metadata(self.app))

    async def put_metadata(self, request: Request) -> Response:
        value = (await read_limited(request, 64 * 1024)).decode("utf-8", "replace")
        self.app.extended[request.path_params["key"]] = value
        return Response(status_code=204)

    async def metrics(self, request: Request) -> Response:
        body = await asyncio.to_thread(generate_latest, self.sidecar.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # -- invocation ------------------------------------------------------------------

    async def invoke(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        rest = raw_path.decode("latin-1").removeprefix("/v1.0/invoke/")
        target, _, method = rest.partition("/method/")
        return await self._forward(request, unquote(target), method)

    async def proxy(self, request: Request, app_id: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        return await self._forward(request, app_id, raw_path.decode("latin-1"))

    async def _forward(self, request: Request, target: str, path: str) -> Response:
        body: bytes | AsyncIterator[bytes]
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= BUFFER_LIMIT:
            body = await request.body()
        elif length is None and "transfer-encoding" not in request.headers:
            body = b""
        else:
            body = request.stream()
        upstream = await self.sidecar.invoker.send(
            self.app.app_id,
            target,
            request.method,
            path,
            request.url.query,
            request.headers.items(),
            body,
        )

        size = upstream.content_length
        response: Response
        if (size is not None and size <= BUFFER_LIMIT) or request.method == "HEAD":
            try:  # a small answer goes back in one piece, without a streaming task
                response = Response(await upstream.read(), status_code=upstream.status)
            finally:
                await upstream.close()
        else:
            response = _Relay(upstream)
        response.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in upstream.headers
        ]
        return response

    # -- pub/sub ---------------------------------------------------------------------

    async def publish(self, request: Request) -> Response:
        body = await read_limited(request, self.sidecar.max_body_size)
        entry = PublishEntry(
            body,
            request.headers.get("content-type"),
            _query_metadata(request),
            request.headers.get("traceparent"),
            request.headers.get("tracestate"),
        )
        await self.sidecar.broker.publish(
            self.app.app_id, request.path_params["pubsub"], request.path_params["topic"], [entry]
        )
        return Response(status_code=204)

    async def bulk_publish(self, request: Request) -> Response:
        data = _json_body(await read_limited(request, self.sidecar.max_body_size))
        if not isinstance(data, list):
            raise errors.bad_request(
                "bulk publish expects a JSON array of entries", "ERR_PUBSUB_EVENTS_SER"
            )
        items = [_parse(_BulkEntry, item) for item in data]
        common = _query_metadata(request)
        entries = []
        for item in items:
            if isinstance(item.event, str) and not is_json_type(item.content_type):
                payload = item.event.encode("utf-8")
            else:
                payload = json.dumps(item.event).encode("utf-8")
            entries.append(
                PublishEntry(
                    payload,
                    item.content_type,
                    {**common, **item.metadata},
                    request.headers.get("traceparent"),
                    request.headers.get("tracestate"),
                    item.entry_id,
                )
            )
        try:
            await self.sidecar.broker.publish(
                self.app.app_id,
                request.path_params["pubsub"],
                request.path_params["topic"],
                entries,
            )
        except errors.DaprError as exc:
            if exc.http_status in (403, 404):
                raise
            failed = [{"entryId": e.entry_id, "error": exc.message} for e in entries]
            return JSONResponse(
                {"failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"},
                status_code=500,
            )
        return Response(status_code=204)

    # -- jobs ------------------------------------------------------------------------

    async def schedule_job(self, request: Request) -> Response:
        name = request.path_params["name"].strip()
        check_name(name)
        raw = await read_limited(request, self.sidecar.max_body_size)
        body = _json_body(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise errors.bad_request("the job must be a JSON object")
        job = _parse(_JobRequest, body)
        if job.name:
            raise job_error("DAPR_SCHEDULER_JOB_NAME", "Set the job name in the url only")
        if job.repeats is not None and job.repeats < 0:
            raise invalid_job("repeats must not be negative")
        data_type, data = json_to_data(job.data) if "data" in job.model_fields_set else ("", b"")
        spec = JobSpec(
            name=name,
            schedule=job.schedule,
            repeats=job.repeats,
            due_time=job.due_time,
            ttl=job.ttl,
            data_type=data_type,
            data=data,
            policy=parse_policy_json(job.failure_policy)
            if job.failure_policy is not None
            else None,
        )
        await self.sidecar.jobs.schedule(self.app.app_id, spec, overwrite=job.overwrite)
        return Response(status_code=204)

    async def get_job(self, request: Request) -> Response:
        job = self.sidecar.jobs.get(self.app.app_id, request.path_params["name"])
        return JSONResponse(job_json(job))

    async def delete_job(self, request: Request) -> Response:
        name = request.path_params["name"]
        check_name(name)
        await self.sidecar.jobs.delete(self.app.app_id, [name])
        return Response(status_code=204)

    # -- secrets ---------------------------------------------------------------------

    async def secret(self, request: Request) -> Response:
        data = self.sidecar.read_secret(
            self.app, request.path_params["store"], request.path_params["key"]
        )
        return JSONResponse(data)

    async def bulk_secret(self, request: Request) -> Response:
        return JSONResponse(self.sidecar.read_bulk_secret(self.app, request.path_params["store"]))

    # -- state -----------------------------------------------------------------------

    def _store(self, request: Request) -> SqliteStateStore:
        name = request.path_params["store"]
        store = self.app.state_stores.get(name)
        if store is None:
            raise errors.state_store_not_found(name)
        return store

    def _set_op(self, store: SqliteStateStore, item: _StateItem) -> SetOp:
        ttl = item.metadata.get("ttlInSeconds")
        try:
            ttl_s = float(ttl) if ttl else None
        except ValueError:
            raise errors.bad_request(f"ttlInSeconds must be a number, got {ttl!r}") from None
        return SetOp(
            store.full_key(self.app.app_id, item.key),
            json.dumps(item.value, separators=(",", ":")).encode("utf-8"),
            item.etag,
            item.options is not None and item.options.concurrency == "first-write",
            ttl_s,
        )

    async def save_state(self, request: Request) -> Response:
        store = self._store(request)
        data = _json_body(await read_limited(request, self.sidecar.max_body_size))
        if not isinstance(data, list):
            raise errors.bad_request("state save expects a JSON array of items")
        items = [_parse(_StateItem, item) for item in data]
        ops: list[SetOp | DeleteOp] = [self._set_op(store, item) for item in items]
        await store.apply(ops)
        return Response(status_code=204)

    async def get_state(self, request: Request) -> Response:
        store = self._store(request)
        key = store.full_key(self.app.app_id, request.path_params["key"])
        item = (await store.get_many([key])).get(key)
        if item is None:
            return Response(status_code=204)
        return Response(item.value, media_type="application/json", headers={"ETag": item.etag})

    async def delete_state(self, request: Request) -> Response:
        store = self._store(request)
        key = store.full_key(self.app.app_id, request.path_params["key"])
        await store.apply([DeleteOp(key, request.headers.get("if-match"))])
        return Response(status_code=204)

    async def bulk_state(self, request: Request) -> Response:
        store = self._store(request)
        body = _parse(_BulkGet, _json_body(await read_limited(request, self.sidecar.max_body_size)))
        keys = {k: store.full_key(self.app.app_id, k) for k in body.keys}
        found = await store.get_many(list(keys.values()))
        result: list[dict[str, Any]] = []
        for key, full in keys.items():
            item = found.get(full)
            if item is None:
                result.append({"key": key})
            else:
                result.append({"key": key, "data": json.loads(item.value), "etag": item.etag})
        return JSONResponse(result)

    async def transaction(self, request: Request) -> Response:
        store = self._store(request)
        body = _parse(
            _Transaction, _json_body(await read_limited(request, self.sidecar.max_body_size))
        )
        ops: list[SetOp | DeleteOp] = []
        for op in body.operations:
            if op.operation == "upsert":
                ops.append(self._set_op(store, op.request))
            elif op.operation == "delete":
                ops.append(
                    DeleteOp(store.full_key(self.app.app_id, op.request.key), op.request.etag)
                )
            else:
                raise errors.bad_request(f"operation type {op.operation} not supported")
        await store.apply(ops)
        return Response(status_code=204)


class _AppIdHeaderProxy:
    """Requests with ``dapr-app-id`` to paths outside ``/v1.0`` are invocations."""

    def __init__(self, app: ASGIApp, api: Api) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(("/v1.0", "/metrics")):
            for name, value in scope["headers"]:
                if name == b"dapr-app-id":
                    request = Request(scope, receive)
                    try:
                        response = await self.api.proxy(request, value.decode("latin-1"))
                    except errors.DaprError as exc:
                        response = _error(exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _ApiToken:
    """With DAPR_API_TOKEN set, every API but health needs the ``dapr-api-token`` header."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope["path"].startswith("/v1.0/healthz")
            and dict(scope["headers"]).get(b"dapr-api-token") != self.token
        ):
            response = JSONResponse(
                {"errorCode": "ERR_API_UNAUTHORIZED", "message": "invalid api token"},
                status_code=401,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_http_app(sidecar: Sidecar, app: AppRuntime) -> ASGIApp:
    api = Api(sidecar, app)
    routes = [
        Route("/v1.0/healthz", api.healthz, methods=["GET"]),
        Route("/v1.0/healthz/outbound", api.healthz_outbound, methods=["GET"]),
        Route("/v1.0/metadata", api.metadata, methods=["GET"]),
        Route("/v1.0/metadata/{key}", api.put_metadata, methods=["PUT"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/v1.0/invoke/{target}/method/{method:path}", api.invoke, methods=INVOKE_METHODS),
        Route("/v1.0/publish/bulk/{pubsub}/{topic:path}", api.bulk_publish, methods=["POST"]),
        Route(
            "/v1.0-alpha1/publish/bulk/{pubsub}/{topic:path}", api.bulk_publish, methods=["POST"]
        ),
        Route("/v1.0/publish/{pubsub}/{topic:path}", api.publish, methods=["POST"]),
        Route("/v1.0/secrets/{store}/bulk", api.bulk_secret, methods=["GET"]),
        Route("/v1.0/secrets/{store}/{key:path}", api.secret, methods=["GET"]),
        Route("/v1.0/state/{store}", api.save_state, methods=["POST"]),
        Route("/v1.0/state/{store}/bulk", api.bulk_state, methods=["POST"]),
        Route("/v1.0/state/{store}/transaction", api.transaction, methods=["POST"]),
        Route("/v1.0/state/{store}/{key}", api.get_state, methods=["GET"]),
        Route("/v1.0/state/{store}/{key}", api.delete_state, methods=["DELETE"]),
    ]
    for version in ("v1.0-alpha1", "v1.0"):  # daprd 1.18 serves the stable path as well
        routes += [
            Route(f"/{version}/jobs/{{name}}", api.schedule_job, methods=["POST"]),
            Route(f"/{version}/jobs/{{name}}", api.get_job, methods=["GET"]),
            Route(f"/{version}/jobs/{{name}}", api.delete_job, methods=["DELETE"]),
        ]
    starlette = Starlette(routes=routes, exception_handlers={errors.DaprError: _dapr_error})
    asgi: ASGIApp = _AppIdHeaderProxy(starlette, api)
    if sidecar.api_token:
        asgi = _ApiToken(asgi, sidecar.api_token)
    return asgi
