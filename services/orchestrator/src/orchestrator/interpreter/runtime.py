"""The Dapr workflow worker of this process: registration, start, stop, readiness."""

from __future__ import annotations

import asyncio
import logging

from dapr.ext.workflow import WorkflowRuntime

from orchestrator.interpreter.activities import ACTIVITIES
from orchestrator.interpreter.contracts import WORKFLOW_NAME
from orchestrator.interpreter.workflow import dynamic_workflow
from orchestrator.settings import Settings

_log = logging.getLogger("orchestrator.runtime")


class WorkerRuntime:
    def __init__(self, settings: Settings) -> None:
        self.runtime = WorkflowRuntime(
            host=settings.dapr_host,
            port=str(settings.dapr_grpc_port),
            maximum_concurrent_activity_work_items=settings.worker_activity_concurrency,
            maximum_concurrent_orchestration_work_items=settings.worker_orchestration_concurrency,
            maximum_thread_pool_workers=settings.worker_threads,
            worker_ready_timeout=5,
        )
        self.runtime.register_workflow(dynamic_workflow, name=WORKFLOW_NAME)
        for name, fn in ACTIVITIES.items():
            self.runtime.register_activity(fn, name=name)
        self._starter: asyncio.Task[None] | None = None
        # The SDK logs every orchestration turn at INFO; keep that for debugging only.
        for noisy in (
            "durabletask-worker",
            "WorkflowRuntime",
            "DaprWorkflowContext",
            "durabletask-client",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)

    def start_in_background(self) -> None:
        """Start the worker without blocking the app; it keeps reconnecting to the sidecar."""

        async def start() -> None:
            while True:
                try:
                    await asyncio.to_thread(self.runtime.start)
                    _log.info("workflow worker connected to the sidecar")
                    return
                except Exception as exc:  # the sidecar may not be up yet
                    _log.warning("workflow worker not ready yet (%s); retrying", exc)
                    await asyncio.sleep(1)

        self._starter = asyncio.create_task(start())

    def ready(self) -> bool:
        return self.runtime.wait_for_worker_ready(timeout=0.05)

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
        await asyncio.to_thread(self.runtime.shutdown)
