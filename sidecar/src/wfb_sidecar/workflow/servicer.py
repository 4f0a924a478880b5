"""The ``TaskHubSidecarService`` gRPC servicer, bound to one app id.

Control RPCs only write to the store and return: none of them waits for a worker turn.
The two long polls wait on in-memory notifications, never by polling the database, and
everything runs on the asyncio server, so any number of waiting clients costs no threads
and never holds up worker completions.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any, TypeAlias, TypeVar

import grpc

from . import ops
from .engine import Engine
from .model import InstanceRow, Key, WorkflowError
from .protos import (
    PENDING,
    TERMINAL_STATUSES,
    empty_pb2,
    now_us,
    pb,
    pb_grpc,
    ts_to_us,
    us_to_ts,
)
from .store import StoreClosedError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000

Context: TypeAlias = Any  # grpc.aio.ServicerContext (grpc ships no type hints)


def workflow_state(row: InstanceRow, with_payloads: bool) -> pb.WorkflowState:
    state = pb.WorkflowState(
        instanceId=row.instance_id,
        name=row.name,
        workflowStatus=row.status,  # type: ignore[arg-type]
        createdTimestamp=us_to_ts(row.created_at),
        lastUpdatedTimestamp=us_to_ts(row.updated_at),
    )
    state.executionId.value = row.execution_id
    if row.version is not None:
        state.version.value = row.version
    if row.scheduled_start_at is not None:
        state.scheduledStartTimestamp.CopyFrom(us_to_ts(row.scheduled_start_at))
    if row.completed_at is not None:
        state.completedTimestamp.CopyFrom(us_to_ts(row.completed_at))
    if row.started_at is not None:
        state.startedAt.CopyFrom(us_to_ts(row.started_at))
    if row.parent_instance_id is not None:
        state.parentInstanceId.value = row.parent_instance_id
    if row.parent_app_id is not None:
        state.parentAppId.value = row.parent_app_id
    if row.failure is not None:
        state.failureDetails.ParseFromString(row.failure)
    start = pb.HistoryEvent.FromString(row.start_event)
    for name, value in start.executionStarted.tags.items():
        state.tags[name] = value
    if with_payloads:
        if row.input is not None:
            state.input.value = row.input
        if row.output is not None:
            state.output.value = row.output
        if row.custom_status is not None:
            state.customStatus.value = row.custom_status
    return state


class WorkflowServicer(pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self, engine: Engine, app_id: str) -> None:
        self.engine = engine
        self.app_id = app_id
        engine.app(app_id)

    # -- helpers -------------------------------------------------------------------------------

    def _app(self, request: Any) -> str:
        router = getattr(request, "router", None)
        if router is not None and request.HasField("router") and router.targetAppID:
            return str(router.targetAppID)
        return self.app_id

    async def _write(self, context: Context, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self.engine.store.write(fn)
        except WorkflowError as exc:
            await context.abort(exc.code, exc.message)
            raise  # unreachable: abort raises
        except StoreClosedError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the sidecar is shutting down")
            raise

    async def _read(
        self, context: Context, fn: Callable[[sqlite3.Connection], T], *, offload: bool = False
    ) -> T:
        try:
            return await self.engine.store.read(fn, offload=offload)
        except WorkflowError as exc:
            await context.abort(exc.code, exc.message)
            raise
        except StoreClosedError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the sidecar is shutting down")
            raise

    async def _state(
        self,
        context: Context,
        key: Key,
        with_payloads: bool,
        condition: Callable[[InstanceRow], bool] | None = None,
    ) -> pb.GetInstanceResponse:
        if condition is None:
            row = await self._read(context, partial(ops.get_instance, key=key))
        else:
            remaining = context.time_remaining()
            try:
                async with asyncio.timeout(remaining):  # wait_for may lose a cancellation
                    row = await self.engine.wait_for(key, condition)
            except TimeoutError:
                await context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"instance '{key[1]}' did not reach the awaited state in time",
                )
                raise
            except StoreClosedError:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the sidecar is shutting down")
                raise
        if row is None:
            return pb.GetInstanceResponse(exists=False)
        return pb.GetInstanceResponse(exists=True, workflowState=workflow_state(row, with_payloads))

    # -- RPCs --------------------------------------------------------------------------------------

    async def Hello(self, request: empty_pb2.Empty, context: Context) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def StartInstance(
        self, request: pb.CreateInstanceRequest, context: Context
    ) -> pb.CreateInstanceResponse:
        instance_id, effects = await self._write(
            context,
            partial(ops.start_instance, app_id=self._app(request), req=request, now=now_us()),
        )
        self.engine.apply(effects)
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def GetInstance(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        key = (self._app(request), request.instanceId)
        return await self._state(context, key, request.getInputsAndOutputs)

    async def WaitForInstanceStart(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        key = (self._app(request), request.instanceId)
        return await self._state(
            context, key, request.getInputsAndOutputs, lambda row: row.status != PENDING
        )

    async def WaitForInstanceCompletion(
        self, request: pb.GetInstanceRequest, context: Context
    ) -> pb.GetInstanceResponse:
        key = (self._app(request), request.instanceId)
        return await self._state(
            context,
            key,
            request.getInputsAndOutputs,
            lambda row: row.status in TERMINAL_STATUSES,
        )

    async def RaiseEvent(
        self, request: pb.RaiseEventRequest, context: Context
    ) -> pb.RaiseEventResponse:
        key = (self._app(request), request.instanceId)
        effects = await self._write(
            context,
            partial(ops.raise_event, key=key, name=request.name, data=request, now=now_us()),
        )
        self.engine.apply(effects)
        return pb.RaiseEventResponse()

    async def TerminateInstance(
        self, request: pb.TerminateRequest, context: Context
    ) -> pb.TerminateResponse:
        key = (self._app(request), request.instanceId)
        effects = await self._write(
            context,
            partial(
                ops.terminate,
                key=key,
                output=request.output.value if request.HasField("output") else None,
                recursive=request.recursive,
                now=now_us(),
                may_finish_directly=key[1] not in self.engine.app(key[0]).in_flight,
            ),
        )
        self.engine.apply(effects)
        return pb.TerminateResponse()

    async def SuspendInstance(
        self, request: pb.SuspendRequest, context: Context
    ) -> pb.SuspendResponse:
        key = (self._app(request), request.instanceId)
        reason = request.reason.value if request.HasField("reason") else None
        effects = await self._write(
            context, partial(ops.suspend, key=key, reason=reason, now=now_us())
        )
        self.engine.apply(effects)
        return pb.SuspendResponse()

    async def ResumeInstance(
        self, request: pb.ResumeRequest, context: Context
    ) -> pb.ResumeResponse:
        key = (self._app(request), request.instanceId)
        reason = request.reason.value if request.HasField("reason") else None
        effects = await self._write(
            context, partial(ops.resume, key=key, reason=reason, now=now_us())
        )
        self.engine.apply(effects)
        return pb.ResumeResponse()

    async def PurgeInstances(
        self, request: pb.PurgeInstancesRequest, context: Context
    ) -> pb.PurgeInstancesResponse:
        app_id = self._app(request)
        which = request.WhichOneof("request")
        if which == "instanceId":
            count, effects = await self._write(
                context,
                partial(
                    ops.purge_instance,
                    key=(app_id, request.instanceId),
                    recursive=request.recursive,
                    force=request.force,
                    now=now_us(),
                ),
            )
        elif which == "purgeInstanceFilter":
            filt = request.purgeInstanceFilter
            count, effects = await self._write(
                context,
                partial(
                    ops.purge_matching,
                    app_id=app_id,
                    created_from=(
                        ts_to_us(filt.createdTimeFrom) if filt.HasField("createdTimeFrom") else None
                    ),
                    created_to=(
                        ts_to_us(filt.createdTimeTo) if filt.HasField("createdTimeTo") else None
                    ),
                    statuses=list(filt.runtimeStatus),
                    recursive=request.recursive,
                    force=request.force,
                    now=now_us(),
                ),
            )
        else:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "give an instance ID or a purge filter"
            )
            raise AssertionError("unreachable")
        self.engine.apply(effects)
        response = pb.PurgeInstancesResponse(deletedInstanceCount=count)
        response.isComplete.value = True
        return response

    async def RerunWorkflowFromEvent(
        self, request: pb.RerunWorkflowFromEventRequest, context: Context
    ) -> pb.RerunWorkflowFromEventResponse:
        new_id, effects = await self._write(
            context, partial(ops.rerun, app_id=self._app(request), req=request, now=now_us())
        )
        self.engine.apply(effects)
        return pb.RerunWorkflowFromEventResponse(newInstanceID=new_id)

    async def ListInstanceIDs(
        self, request: pb.ListInstanceIDsRequest, context: Context
    ) -> pb.ListInstanceIDsResponse:
        size = request.pageSize if request.HasField("pageSize") else DEFAULT_PAGE_SIZE
        if size == 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "pageSize must be at least 1")
        after = request.continuationToken if request.HasField("continuationToken") else None
        ids, token = await self._read(
            context,
            partial(
                ops.list_instance_ids,
                app_id=self.app_id,
                after=after,
                limit=min(size, MAX_PAGE_SIZE),
            ),
            offload=True,
        )
        response = pb.ListInstanceIDsResponse(instanceIds=ids)
        if token is not None:
            response.continuationToken = token
        return response

    async def GetInstanceHistory(
        self, request: pb.GetInstanceHistoryRequest, context: Context
    ) -> pb.GetInstanceHistoryResponse:
        events = await self._read(
            context,
            partial(ops.get_history, key=(self.app_id, request.instanceId)),
            offload=True,
        )
        response = pb.GetInstanceHistoryResponse()
        for data in events:
            response.events.add().MergeFromString(data)
        return response

    async def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: Context) -> None:
        stream = self.engine.open_stream(self.app_id, list(request.capabilities))
        pinger = (
            asyncio.create_task(self.engine.health_pings(stream)) if stream.health_ping else None
        )
        try:
            while True:
                item = await stream.queue.get()
                if item is None:
                    return
                await context.write(item)
        finally:
            if pinger is not None:
                pinger.cancel()
            self.engine.close_stream(stream)

    async def CompleteOrchestratorTask(
        self, request: pb.WorkflowResponse, context: Context
    ) -> pb.CompleteTaskResponse:
        await self.engine.complete_turn(self.app_id, request)
        return pb.CompleteTaskResponse()

    async def CompleteWorkflowTask(
        self, request: pb.WorkflowResponse, context: Context
    ) -> pb.CompleteTaskResponse:
        await self.engine.complete_turn(self.app_id, request)
        return pb.CompleteTaskResponse()

    async def CompleteActivityTask(
        self, request: pb.ActivityResponse, context: Context
    ) -> pb.CompleteTaskResponse:
        await self.engine.complete_activity(self.app_id, request)
        return pb.CompleteTaskResponse()
