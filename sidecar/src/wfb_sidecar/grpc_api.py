"""Dapr's runtime gRPC API (``dapr.proto.runtime.v1.Dapr``), one servicer per app.

The servicer is assembled from one mixin per building block (invocation, pub/sub with
streaming subscriptions, secrets, metadata, state, jobs), listed in
``DaprRuntimeServicer``. Methods not
implemented answer UNIMPLEMENTED (the generated base class does). The workflow
backend's ``TaskHubSidecarService`` is registered on the same server when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from dapr.proto import api_service_v1, api_v1, appcallback_v1, common_v1
from google.protobuf.any_pb2 import Any as GrpcAny
from google.protobuf.empty_pb2 import Empty

from wfb_sidecar import errors
from wfb_sidecar.jobs.model import FailurePolicy, Job, JobSpec, check_name
from wfb_sidecar.pubsub.broker import PublishEntry
from wfb_sidecar.pubsub.streams import EventStream, event_fields
from wfb_sidecar.state import DeleteOp, SetOp

if TYPE_CHECKING:
    from wfb_sidecar.runtime import AppRuntime, Sidecar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

HTTP_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def dapr_errors(method: F) -> F:
    """Turn a DaprError into the gRPC status daprd would answer."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except errors.DaprError as exc:
            await context.abort(exc.grpc_code, exc.message)

    return wrapper  # type: ignore[return-value]


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {
        k: v
        for k, v in (context.invocation_metadata() or ())
        if isinstance(v, str) and not k.startswith((":", "grpc-"))
    }


class _Base(api_service_v1.DaprServicer):
    def __init__(self, sidecar: Sidecar, app: AppRuntime) -> None:
        self.sidecar = sidecar
        self.app = app


class InvocationRpcs(_Base):
    @dapr_errors
    async def InvokeService(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        message = request.message
        verb = "POST"
        query = ""
        if message.HasField("http_extension"):
            name = common_v1.HTTPExtension.Verb.Name(message.http_extension.verb)
            verb = "POST" if name == "NONE" else name
            query = message.http_extension.querystring
        headers = [(k, v) for k, v in _metadata(context).items() if k != "dapr-api-token"]
        if message.content_type:
            headers.append(("content-type", message.content_type))
        response = await self.sidecar.invoker.send(
            self.app.app_id, request.id, verb, message.method, query, headers, message.data.value
        )
        try:
            body = await response.read()
        finally:
            await response.close()
        if not 200 <= response.status < 300:
            code = HTTP_TO_GRPC.get(response.status, grpc.StatusCode.UNKNOWN)
            detail = body.decode("utf-8", "replace")[:1000]
            await context.abort(code, f"the app answered {response.status}: {detail}")
        await context.send_initial_metadata(
            [(k.lower(), v) for k, v in response.headers if k.isascii() and v.isascii()]
        )
        return common_v1.InvokeResponse(
            data=GrpcAny(value=body), content_type=response.header("content-type") or ""
        )


class PubSubRpcs(_Base):
    @dapr_errors
    async def PublishEvent(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        meta = _metadata(context)
        entry = PublishEntry(
            request.data,
            request.data_content_type or None,
            dict(request.metadata),
            meta.get("traceparent"),
            meta.get("tracestate"),
        )
        await self.sidecar.broker.publish(
            self.app.app_id, request.pubsub_name, request.topic, [entry]
        )
        return Empty()

    @dapr_errors
    async def BulkPublishEvent(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        meta = _metadata(context)
        entries = [
            PublishEntry(
                e.event,
                e.content_type or None,
                {**request.metadata, **e.metadata},
                meta.get("traceparent"),
                meta.get("tracestate"),
                e.entry_id,
            )
            for e in request.entries
        ]
        try:
            await self.sidecar.broker.publish(
                self.app.app_id, request.pubsub_name, request.topic, entries
            )
        except errors.DaprError as exc:
            if exc.error_code in (
                "ERR_PUBSUB_NOT_FOUND",
                "ERR_PUBSUB_FORBIDDEN",
                "ERR_TOPIC_EMPTY",
            ):
                raise
            failed = [
                api_v1.BulkPublishResponseFailedEntry(entry_id=e.entry_id, error=exc.message)
                for e in entries
            ]
            return api_v1.BulkPublishResponse(failedEntries=failed)
        return api_v1.BulkPublishResponse()

    async def BulkPublishEventAlpha1(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.BulkPublishEvent(request, context)


_STATUS_NAMES = appcallback_v1.TopicEventResponse.TopicEventResponseStatus


class StreamingRpcs(_Base):
    """``SubscribeTopicEventsAlpha1``: the SDK's ``DaprClient.subscribe(...)``."""

    async def SubscribeTopicEventsAlpha1(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            first = await anext(request_iterator)
        except StopAsyncIteration:
            return
        if first.WhichOneof("subscribe_topic_events_request_type") != "initial_request":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message of a subscription stream must be an initial_request",
            )
        initial = first.initial_request
        try:
            stream = await self.sidecar.broker.open_stream(
                self.app.app_id,
                initial.pubsub_name,
                initial.topic,
                dict(initial.metadata),
                initial.dead_letter_topic or None,
            )
        except errors.DaprError as exc:
            await context.abort(exc.grpc_code, exc.message)
        reader = asyncio.create_task(self._read_answers(request_iterator, stream))
        try:
            yield api_v1.SubscribeTopicEventsResponseAlpha1(
                initial_response=api_v1.SubscribeTopicEventsResponseInitialAlpha1()
            )
            while True:
                event = await stream.outbox.get()
                if event is None:
                    return
                yield api_v1.SubscribeTopicEventsResponseAlpha1(event_message=_topic_event(event))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self.sidecar.broker.close_stream(stream)

    @staticmethod
    async def _read_answers(request_iterator: AsyncIterator[Any], stream: EventStream) -> None:
        try:
            async for request in request_iterator:
                if request.HasField("event_processed"):
                    processed = request.event_processed
                    stream.answer(processed.id, _STATUS_NAMES.Name(processed.status.status))
        except grpc.aio.AioRpcError:
            pass
        finally:
            stream.close()  # the client closed its side: end the stream


def _topic_event(event: dict[str, Any]) -> Any:
    fields = event_fields(event)
    extensions = fields.pop("extensions")
    message = appcallback_v1.TopicEventRequest(**fields)
    if extensions:
        message.extensions.update(extensions)
    return message


class SecretsRpcs(_Base):
    @dapr_errors
    async def GetSecret(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = self.sidecar.read_secret(self.app, request.store_name, request.key)
        return api_v1.GetSecretResponse(data=data)

    @dapr_errors
    async def GetBulkSecret(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = self.sidecar.read_bulk_secret(self.app, request.store_name)
        return api_v1.GetBulkSecretResponse(
            data={k: api_v1.SecretResponse(secrets=v) for k, v in data.items()}
        )


class MetadataRpcs(_Base):
    @dapr_errors
    async def GetMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        doc = self.sidecar.metadata(self.app)
        subscriptions = [
            api_v1.PubsubSubscription(
                pubsub_name=s["pubsubname"],
                topic=s["topic"],
                metadata=s["metadata"],
                rules=api_v1.PubsubSubscriptionRules(
                    rules=[
                        api_v1.PubsubSubscriptionRule(match=r["match"], path=r["path"])
                        for r in s["rules"]
                    ]
                ),
                dead_letter_topic=s["deadLetterTopic"],
                type=api_v1.PubsubSubscriptionType.Value(s["type"]),
            )
            for s in doc["subscriptions"]
        ]
        connection = doc["appConnectionProperties"]
        return api_v1.GetMetadataResponse(
            id=doc["id"],
            runtime_version=doc["runtimeVersion"],
            registered_components=[
                api_v1.RegisteredComponents(
                    name=c["name"],
                    type=c["type"],
                    version=c["version"],
                    capabilities=c["capabilities"],
                )
                for c in doc["components"]
            ],
            extended_metadata=doc["extended"],
            subscriptions=subscriptions,
            app_connection_properties=api_v1.AppConnectionProperties(
                port=connection["port"],
                protocol=connection["protocol"],
                channel_address=connection["channelAddress"],
            ),
        )

    @dapr_errors
    async def SetMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.app.extended[request.key] = request.value
        return Empty()


def _set_op(store_key: str, item: Any) -> SetOp:
    ttl = item.metadata.get("ttlInSeconds")
    concurrency = item.options.concurrency if item.HasField("options") else 0
    return SetOp(
        store_key,
        item.value,
        item.etag.value if item.HasField("etag") else None,
        concurrency == common_v1.StateOptions.CONCURRENCY_FIRST_WRITE,
        float(ttl) if ttl else None,
    )


class StateRpcs(_Base):
    def _store(self, name: str) -> Any:
        store = self.app.state_stores.get(name)
        if store is None:
            raise errors.state_store_not_found(name)
        return store

    @dapr_errors
    async def GetState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.store_name)
        key = store.full_key(self.app.app_id, request.key)
        item = (await store.get_many([key])).get(key)
        if item is None:
            return api_v1.GetStateResponse()
        return api_v1.GetStateResponse(data=item.value, etag=item.etag)

    @dapr_errors
    async def GetBulkState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.store_name)
        keys = {k: store.full_key(self.app.app_id, k) for k in request.keys}
        found = await store.get_many(list(keys.values()))
        items = []
        for key, full in keys.items():
            item = found.get(full)
            items.append(
                api_v1.BulkStateItem(key=key, data=item.value, etag=item.etag)
                if item
                else api_v1.BulkStateItem(key=key)
            )
        return api_v1.GetBulkStateResponse(items=items)

    @dapr_errors
    async def SaveState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.store_name)
        ops: list[SetOp | DeleteOp] = [
            _set_op(store.full_key(self.app.app_id, s.key), s) for s in request.states
        ]
        await store.apply(ops)
        return Empty()

    @dapr_errors
    async def DeleteState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.store_name)
        etag = request.etag.value if request.HasField("etag") else None
        await store.apply([DeleteOp(store.full_key(self.app.app_id, request.key), etag)])
        return Empty()

    @dapr_errors
    async def DeleteBulkState(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.store_name)
        ops: list[SetOp | DeleteOp] = [
            DeleteOp(
                store.full_key(self.app.app_id, s.key), s.etag.value if s.HasField("etag") else None
            )
            for s in request.states
        ]
        await store.apply(ops)
        return Empty()

    @dapr_errors
    async def ExecuteStateTransaction(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        store = self._store(request.storeName)
        ops: list[SetOp | DeleteOp] = []
        for op in request.operations:
            key = store.full_key(self.app.app_id, op.request.key)
            if op.operationType == "upsert":
                ops.append(_set_op(key, op.request))
            elif op.operationType == "delete":
                etag = op.request.etag.value if op.request.HasField("etag") else None
                ops.append(DeleteOp(key, etag))
            else:
                raise errors.bad_request(f"operation type {op.operationType} not supported")
        await store.apply(ops)
        return Empty()


def _policy_from_proto(message: Any) -> FailurePolicy:
    kind = message.WhichOneof("policy")
    if kind == "drop":
        return FailurePolicy("drop")
    if kind != "constant":
        raise errors.bad_request("failure_policy must set drop or constant")
    constant = message.constant
    interval = constant.interval.seconds + constant.interval.nanos / 1e9
    retries = constant.max_retries if constant.HasField("max_retries") else None
    return FailurePolicy("constant", interval, retries)


def _policy_to_proto(policy: FailurePolicy) -> Any:
    if policy.kind == "drop":
        return common_v1.JobFailurePolicy(drop=common_v1.JobFailurePolicyDrop())
    constant = common_v1.JobFailurePolicyConstant()
    constant.interval.FromNanoseconds(round(policy.interval_s * 1e9))
    if policy.max_retries is not None:
        constant.max_retries = policy.max_retries
    return common_v1.JobFailurePolicy(constant=constant)


def _job_proto(job: Job) -> Any:
    message = api_v1.Job(name=job.name, failure_policy=_policy_to_proto(job.policy))
    if job.schedule is not None:
        message.schedule = job.schedule
    if job.repeats is not None:
        message.repeats = job.repeats
    if job.due_time is not None:
        message.due_time = job.due_time
    if job.ttl is not None:
        message.ttl = job.ttl
    message.data.CopyFrom(GrpcAny(type_url=job.data_type, value=job.data))
    return message


class JobsRpcs(_Base):
    """The Jobs API; the stable RPCs (Dapr 1.18) and their Alpha1 aliases are the same."""

    @dapr_errors
    async def ScheduleJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        job = request.job
        spec = JobSpec(
            name=job.name,
            schedule=job.schedule if job.HasField("schedule") else None,
            repeats=job.repeats if job.HasField("repeats") else None,
            due_time=job.due_time if job.HasField("due_time") else None,
            ttl=job.ttl if job.HasField("ttl") else None,
            data_type=job.data.type_url if job.HasField("data") else "",
            data=job.data.value if job.HasField("data") else b"",
            policy=_policy_from_proto(job.failure_policy)
            if job.HasField("failure_policy")
            else None,
        )
        await self.sidecar.jobs.schedule(self.app.app_id, spec, overwrite=request.overwrite)
        return api_v1.ScheduleJobResponse()

    @dapr_errors
    async def GetJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        check_name(request.name)
        return api_v1.GetJobResponse(
            job=_job_proto(self.sidecar.jobs.get(self.app.app_id, request.name))
        )

    @dapr_errors
    async def DeleteJob(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        check_name(request.name)
        await self.sidecar.jobs.delete(self.app.app_id, [request.name])
        return api_v1.DeleteJobResponse()

    @dapr_errors
    async def DeleteJobsByPrefix(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.sidecar.jobs.delete_prefix(self.app.app_id, request.name_prefix)
        if isinstance(request, api_v1.DeleteJobsByPrefixRequestAlpha1):
            return api_v1.DeleteJobsByPrefixResponseAlpha1()
        return api_v1.DeleteJobsByPrefixResponse()

    @dapr_errors
    async def ListJobs(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        jobs = [_job_proto(j) for j in self.sidecar.jobs.jobs_of(self.app.app_id)]
        if isinstance(request, api_v1.ListJobsRequestAlpha1):
            return api_v1.ListJobsResponseAlpha1(jobs=jobs)
        return api_v1.ListJobsResponse(jobs=jobs)

    async def ScheduleJobAlpha1(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.ScheduleJob(request, context)

    async def GetJobAlpha1(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.GetJob(request, context)

    async def DeleteJobAlpha1(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.DeleteJob(request, context)

    async def DeleteJobsByPrefixAlpha1(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self.DeleteJobsByPrefix(request, context)

    async def ListJobsAlpha1(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self.ListJobs(request, context)


class DaprRuntimeServicer(
    InvocationRpcs, PubSubRpcs, StreamingRpcs, SecretsRpcs, MetadataRpcs, StateRpcs, JobsRpcs
):
    """Every block this sidecar serves over gRPC, for one app."""


class ApiTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuse calls without the right ``dapr-api-token`` (when DAPR_API_TOKEN is set)."""

    def __init__(self, token: str) -> None:
        self.token = token

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or invalid dapr-api-token"
            )

        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        metadata = dict(details.invocation_metadata or ())
        if metadata.get("dapr-api-token") != self.token:
            return self._deny
        return await continuation(details)


def add_servicers(server: grpc.aio.Server, sidecar: Sidecar, app: AppRuntime) -> None:
    api_service_v1.add_DaprServicer_to_server(  # type: ignore[no-untyped-call]
        DaprRuntimeServicer(sidecar, app), server
    )
    if sidecar.workflow is not None:
        from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2_grpc as pb

        pb.add_TaskHubSidecarServiceServicer_to_server(  # type: ignore[no-untyped-call]
            sidecar.workflow.servicer(app.app_id), server
        )
