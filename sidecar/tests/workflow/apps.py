"""Workflows and activities the conformance tests run, written as an application would
write them with the Dapr SDK."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf


class Recorder:
    """Thread-safe record of activity executions (activities run on worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.inputs: dict[str, list[Any]] = {}

    def hit(self, key: str, value: Any = None) -> int:
        with self._lock:
            self.calls[key] += 1
            self.inputs.setdefault(key, []).append(value)
            return self.calls[key]

    def count(self, key: str) -> int:
        with self._lock:
            return self.calls[key]


recorder = Recorder()


def register(rt: wf.WorkflowRuntime) -> None:
    """Register every conformance workflow and activity on a runtime."""

    @rt.activity(name="add_one")
    def add_one(ctx: wf.WorkflowActivityContext, x: int) -> int:
        recorder.hit(f"add_one:{ctx.workflow_id}", x)
        return x + 1

    @rt.activity(name="square")
    def square(ctx: wf.WorkflowActivityContext, x: int) -> int:
        return x * x

    @rt.activity(name="echo")
    def echo(ctx: wf.WorkflowActivityContext, value: Any) -> Any:
        recorder.hit(f"echo:{ctx.workflow_id}", value)
        return value

    @rt.activity(name="flaky")
    def flaky(ctx: wf.WorkflowActivityContext, spec: dict[str, Any]) -> str:
        attempt = recorder.hit(f"flaky:{spec['key']}")
        if attempt <= spec["failures"]:
            raise ConnectionError(f"attempt {attempt} failed")
        return f"succeeded on attempt {attempt}"

    @rt.activity(name="boom")
    def boom(ctx: wf.WorkflowActivityContext, message: str) -> None:
        raise ValueError(message)

    @rt.workflow(name="chain")
    def chain(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        x = yield ctx.call_activity("add_one", input=x)
        x = yield ctx.call_activity("add_one", input=x)
        x = yield ctx.call_activity("add_one", input=x)
        return x

    @rt.workflow(name="fan_out")
    def fan_out(ctx: wf.DaprWorkflowContext, n: int) -> Any:
        tasks = [ctx.call_activity("square", input=i) for i in range(n)]
        results = yield wf.when_all(tasks)
        return sum(results)

    @rt.workflow(name="event_or_timer")
    def event_or_timer(ctx: wf.DaprWorkflowContext, seconds: float) -> Any:
        timer = ctx.create_timer(timedelta(seconds=seconds))
        approval = ctx.wait_for_external_event("approval")
        winner = yield wf.when_any([approval, timer])
        if winner == timer:
            return {"outcome": "timed_out"}
        return {"outcome": "approved", "data": approval.get_result()}

    @rt.workflow(name="event_with_timeout")
    def event_with_timeout(ctx: wf.DaprWorkflowContext, seconds: float) -> Any:
        try:
            data = yield ctx.wait_for_external_event("go", timeout=timedelta(seconds=seconds))
        except TimeoutError:
            return "timeout"
        return {"got": data}

    @rt.workflow(name="wait_event")
    def wait_event(ctx: wf.DaprWorkflowContext, name: str) -> Any:
        data = yield ctx.wait_for_external_event(name)
        return data

    @rt.workflow(name="two_events")
    def two_events(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        first = yield ctx.wait_for_external_event("first")
        second = yield ctx.wait_for_external_event("second")
        return [first, second]

    @rt.workflow(name="retrying")
    def retrying(ctx: wf.DaprWorkflowContext, spec: dict[str, Any]) -> Any:
        policy = wf.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=100),
            max_number_of_attempts=spec["attempts"],
            backoff_coefficient=1.5,
        )
        result = yield ctx.call_activity("flaky", input=spec, retry_policy=policy)
        return result

    @rt.workflow(name="failing")
    def failing(ctx: wf.DaprWorkflowContext, message: str) -> Any:
        yield ctx.call_activity("boom", input=message)
        return "unreachable"

    @rt.workflow(name="catching")
    def catching(ctx: wf.DaprWorkflowContext, message: str) -> Any:
        try:
            yield ctx.call_activity("boom", input=message)
        except wf.TaskFailedError as exc:
            return {"caught": str(exc), "type": exc.details.error_type}
        return "unreachable"

    @rt.workflow(name="child")
    def child(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        y = yield ctx.call_activity("add_one", input=x)
        if y < 0:
            raise ValueError("negative")
        return y * 10

    @rt.workflow(name="parent")
    def parent(ctx: wf.DaprWorkflowContext, xs: list[int]) -> Any:
        results = []
        for i, x in enumerate(xs):
            try:
                r = yield ctx.call_child_workflow(
                    "child", input=x, instance_id=f"{ctx.instance_id}-child-{i}"
                )
            except wf.TaskFailedError as exc:
                r = f"failed: {exc.details.error_type}"
            results.append(r)
        return results

    @rt.workflow(name="waiting_child")
    def waiting_child(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        yield ctx.wait_for_external_event("never")
        return "done"

    @rt.workflow(name="parent_of_waiting")
    def parent_of_waiting(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        result = yield ctx.call_child_workflow(
            "waiting_child", instance_id=f"{ctx.instance_id}-child"
        )
        return result

    @rt.workflow(name="grandparent")
    def grandparent(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        result = yield ctx.call_child_workflow(
            "parent_of_waiting", instance_id=f"{ctx.instance_id}-p"
        )
        return result

    @rt.workflow(name="counter")
    def counter(ctx: wf.DaprWorkflowContext, state: dict[str, Any]) -> Any:
        value = yield ctx.wait_for_external_event("tick")
        total = state["total"] + value
        seen = state["seen"] + 1
        if seen < state["until"]:
            ctx.continue_as_new(
                {"total": total, "seen": seen, "until": state["until"]}, save_events=True
            )
            return None
        return {"total": total, "seen": seen}

    @rt.workflow(name="looping")
    def looping(ctx: wf.DaprWorkflowContext, n: int) -> Any:
        x = yield ctx.call_activity("add_one", input=n)
        if x < 5:
            ctx.continue_as_new(x)
            return None
        return x

    @rt.workflow(name="patched")
    def patched(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        if ctx.is_patched("use-square"):
            x = yield ctx.call_activity("square", input=x)
        else:
            x = yield ctx.call_activity("add_one", input=x)
        x = yield ctx.call_activity("add_one", input=x)
        x = yield ctx.call_activity("add_one", input=x)
        return x

    @rt.workflow(name="status_reporter")
    def status_reporter(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
        ctx.set_custom_status("waiting for go")
        yield ctx.wait_for_external_event("go")
        ctx.set_custom_status("done")
        return ctx.current_utc_datetime.isoformat()

    @rt.workflow(name="timer_then_echo")
    def timer_then_echo(ctx: wf.DaprWorkflowContext, seconds: float) -> Any:
        start = ctx.current_utc_datetime
        yield ctx.create_timer(timedelta(seconds=seconds))
        waited = (ctx.current_utc_datetime - start).total_seconds()
        value = yield ctx.call_activity("echo", input=round(waited, 1))
        return value

    @rt.workflow(name="steps")
    def steps(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        a = yield ctx.call_activity("echo", input={"step": "a", "x": x})
        b = yield ctx.call_activity("echo", input={"step": "b", "x": x})
        c = yield ctx.call_activity("echo", input={"step": "c", "x": x})
        return [a, b, c]

    @rt.workflow(name="timer_steps")
    def timer_steps(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        a = yield ctx.call_activity("echo", input="a")
        yield ctx.create_timer(timedelta(milliseconds=200))
        b = yield ctx.call_activity("echo", input="b")
        return [a, b]

    @rt.workflow(name="parent_steps")
    def parent_steps(ctx: wf.DaprWorkflowContext, x: int) -> Any:
        a = yield ctx.call_activity("echo", input="before")
        c = yield ctx.call_child_workflow("child", input=x)
        return [a, c]
