"""The benchmark's worker process: ``python worker.py PORT``.

Plain Dapr SDK application code: a chain of three activities, and a workflow that waits
for an approval event.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

import dapr.ext.workflow as wf


def main() -> None:
    port = sys.argv[1]
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("durabletask-worker").setLevel(logging.WARNING)
    rt = wf.WorkflowRuntime(host="127.0.0.1", port=port)

    @rt.activity(name="validate")
    def validate(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> dict[str, Any]:
        return {**order, "valid": True}

    @rt.activity(name="price")
    def price(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> dict[str, Any]:
        return {**order, "total": order["qty"] * 3}

    @rt.activity(name="confirm")
    def confirm(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> str:
        return f"order {order['id']} confirmed for {order['total']}"

    @rt.workflow(name="chain3")
    def chain3(ctx: wf.DaprWorkflowContext, order: dict[str, Any]) -> Any:
        order = yield ctx.call_activity("validate", input=order)
        order = yield ctx.call_activity("price", input=order)
        return (yield ctx.call_activity("confirm", input=order))

    @rt.workflow(name="approval")
    def approval(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        decision = yield ctx.wait_for_external_event("approve")
        return decision

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rt.start()
    print("worker ready", flush=True)
    stop.wait()
    rt.shutdown()


if __name__ == "__main__":
    main()
