"""Run a small set of workflows against a workflow backend with whatever SDK this
interpreter has, and exit non-zero on any difference.

    python sdk_workflow.py --port N --flavor dapr         # dapr-ext-workflow / dapr >= 1.18
    python sdk_workflow.py --port N --flavor durabletask  # standalone durabletask-dapr

The file imports nothing from this repository: it runs in throwaway virtualenvs that
hold an older SDK, to prove the backend serves every client it claims to.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import uuid
from datetime import timedelta
from importlib import metadata
from typing import Any


def run_dapr(port: int) -> list[str]:
    import dapr.ext.workflow as wf

    rt = wf.WorkflowRuntime(host="127.0.0.1", port=str(port))

    @rt.activity(name="double")
    def double(ctx: Any, x: int) -> int:
        return x * 2

    @rt.workflow(name="compat_child")
    def compat_child(ctx: Any, x: int) -> Any:
        return (yield ctx.call_activity("double", input=x)) + 1

    @rt.workflow(name="compat_main")
    def compat_main(ctx: Any, x: int) -> Any:
        ctx.set_custom_status("fanning out")
        doubled = yield wf.when_all([ctx.call_activity("double", input=i) for i in range(x)])
        yield ctx.create_timer(timedelta(milliseconds=200))
        approval = yield ctx.wait_for_external_event("approval")
        child = yield ctx.call_child_workflow("compat_child", input=sum(doubled))
        return {"doubled": doubled, "approval": approval, "child": child}

    @rt.workflow(name="compat_wait")
    def compat_wait(ctx: Any, _: Any) -> Any:
        return (yield ctx.wait_for_external_event("never"))

    rt.start()
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
    checks: list[str] = []
    try:
        iid = f"compat-{uuid.uuid4().hex[:8]}"
        client.schedule_new_workflow("compat_main", input=3, instance_id=iid)
        client.wait_for_workflow_start(iid, timeout_in_seconds=20)
        client.raise_workflow_event(iid, "approval", data={"ok": True})
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=30)
        expect(state is not None and state.runtime_status.name == "COMPLETED", "main completed")
        assert state is not None
        expect(
            json.loads(state.serialized_output or "null")
            == {"doubled": [0, 2, 4], "approval": {"ok": True}, "child": 13},
            f"main output: {state.serialized_output}",
        )
        expect(state.serialized_custom_status == "fanning out", "custom status")
        checks.append("chain/fan-out, timer, external event, child workflow")

        waiting = f"compat-wait-{uuid.uuid4().hex[:8]}"
        client.schedule_new_workflow("compat_wait", instance_id=waiting)
        client.wait_for_workflow_start(waiting, timeout_in_seconds=20)
        client.pause_workflow(waiting)
        paused = client.get_workflow_state(waiting)
        expect(paused is not None and paused.runtime_status.name == "SUSPENDED", "suspended")
        client.resume_workflow(waiting)
        client.terminate_workflow(waiting)
        done = client.wait_for_workflow_completion(waiting, timeout_in_seconds=20)
        expect(done is not None and done.runtime_status.name == "TERMINATED", "terminated")
        client.purge_workflow(waiting)
        expect(client.get_workflow_state(waiting) is None, "purged")
        checks.append("suspend, resume, terminate, purge")
    finally:
        rt.shutdown()
    return checks


def run_durabletask(port: int) -> list[str]:
    from durabletask import client as dt_client
    from durabletask import task, worker

    def double(ctx: Any, x: int) -> int:
        return x * 2

    def compat_child(ctx: Any, x: int) -> Any:
        return (yield ctx.call_activity(double, input=x)) + 1

    def compat_main(ctx: Any, x: int) -> Any:
        doubled = yield task.when_all([ctx.call_activity(double, input=i) for i in range(x)])
        yield ctx.create_timer(timedelta(milliseconds=200))
        approval = yield ctx.wait_for_external_event("approval")
        child = yield ctx.call_sub_orchestrator(compat_child, input=sum(doubled))
        return {"doubled": doubled, "approval": approval, "child": child}

    w = worker.TaskHubGrpcWorker(host_address=f"127.0.0.1:{port}")
    w.add_activity(double)
    w.add_orchestrator(compat_child)
    w.add_orchestrator(compat_main)
    w.start()
    c = dt_client.TaskHubGrpcClient(host_address=f"127.0.0.1:{port}")
    try:
        iid = c.schedule_new_orchestration(compat_main, input=3)
        c.wait_for_orchestration_start(iid, timeout=20)
        c.raise_orchestration_event(iid, "approval", data={"ok": True})
        state = c.wait_for_orchestration_completion(iid, timeout=30)
        expect(state is not None and state.runtime_status.name == "COMPLETED", "main completed")
        assert state is not None
        expect(
            json.loads(state.serialized_output or "null")
            == {"doubled": [0, 2, 4], "approval": {"ok": True}, "child": 13},
            f"main output: {state.serialized_output}",
        )
        return ["chain/fan-out, timer, external event, child workflow"]
    finally:
        w.stop()


def expect(condition: bool, what: str) -> None:
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--flavor", choices=["dapr", "durabletask"], required=True)
    args = parser.parse_args()
    started = time.monotonic()
    if args.flavor == "dapr":
        versions = f"dapr {metadata.version('dapr')}"
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions += f", dapr-ext-workflow {metadata.version('dapr-ext-workflow')}"
        checks = run_dapr(args.port)
    else:
        versions = f"durabletask-dapr {metadata.version('durabletask-dapr')}"
        checks = run_durabletask(args.port)
    print(f"ok [{versions}] {'; '.join(checks)} ({time.monotonic() - started:.1f}s)", flush=True)


if __name__ == "__main__":
    main()
