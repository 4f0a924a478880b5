"""A worker process for the crash tests: ``python worker_app.py PORT MARKS_DIR``.

Activities leave a file in MARKS_DIR each time they start and finish, so a test can
count executions across worker processes (and kills).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import dapr.ext.workflow as wf


def main() -> None:
    port, marks = sys.argv[1], Path(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    rt = wf.WorkflowRuntime(host="127.0.0.1", port=port)

    def mark(kind: str, instance_id: str) -> None:
        (marks / f"{kind}.{instance_id}.{uuid.uuid4().hex[:6]}").touch()

    @rt.activity(name="slow")
    def slow(ctx: wf.WorkflowActivityContext, seconds: float) -> str:
        mark("slow-start", ctx.workflow_id)
        time.sleep(seconds)
        mark("slow-done", ctx.workflow_id)
        return "slept"

    @rt.activity(name="step")
    def step(ctx: wf.WorkflowActivityContext, x: int) -> int:
        mark("step", ctx.workflow_id)
        return x + 1

    @rt.workflow(name="crash_flow")
    def crash_flow(ctx: wf.DaprWorkflowContext, spec: dict[str, Any]) -> Any:
        kind = spec["kind"]
        if kind == "timer":
            yield ctx.create_timer(timedelta(seconds=spec["seconds"]))
            result: Any = "timer fired"
        elif kind == "event":
            result = yield ctx.wait_for_external_event("go")
        else:
            result = yield ctx.call_activity("slow", input=spec["seconds"])
        after = yield ctx.call_activity("step", input=1)
        return {"result": result, "after": after}

    @rt.workflow(name="crash_chain")
    def crash_chain(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        for _ in range(5):
            x = yield ctx.call_activity("step", input=x)
        return x

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rt.start()
    print("worker ready", flush=True)
    stop.wait()
    rt.shutdown()


if __name__ == "__main__":
    main()
