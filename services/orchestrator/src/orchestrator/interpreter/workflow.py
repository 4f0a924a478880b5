"""``dynamic_workflow``: the one Dapr workflow that interprets any definition.

Each turn the interpreter settles what can be decided without I/O (skips, disabled
nodes, triggers, conditions, pure ``system/set`` actions), launches every ready node
that needs a side effect (activities, timers, approval waits, child workflows) up to
the run's concurrency cap, and waits for whichever finishes first. Everything here is
deterministic: time comes from ``ctx.current_utc_datetime``, iteration is over lists and
insertion-ordered dicts, and every side effect (calling functions, publishing,
recording execution events) happens in an activity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.ext.workflow import DaprWorkflowContext, RetryPolicy, when_any
from dapr.ext.workflow._durabletask.task import Task, TaskFailedError
from pydantic import ValidationError

from orchestrator.interpreter import contracts as c
from orchestrator.interpreter.pure import PURE_FUNCTIONS, envelope, run_pure_function
from orchestrator.interpreter.state import RunState
from workflow_core.expressions import ExpressionError, evaluate_condition
from workflow_core.model import SerializedNode, WorkflowDefinition
from workflow_core.nodes import (
    ActionNode,
    ApprovalNode,
    ApprovalResponse,
    LoopNode,
    PublishEventNode,
    SubWorkflowNode,
    TimerNode,
    TriggerNode,
    parse_node,
)
from workflow_core.templates import NameIndex, TemplateError, render

WorkflowGen = Generator[Task[Any], Any, dict[str, Any]]


class NodeFailure(Exception):
    """A node failed for good (after its retries)."""

    def __init__(self, node_id: str, message: str) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.message = message


class RunFailed(Exception):
    """Raised out of the workflow so Dapr reports the run as FAILED with this message."""


@dataclass
class Approval:
    node_id: str
    event_name: str
    deadline: datetime
    message: str | None


@dataclass
class LoopRun:
    node_id: str
    items: list[Any]
    concurrency: int
    on_error: str
    results: list[Any] = field(default_factory=list)
    next_index: int = 0
    running: int = 0
    done: int = 0


@dataclass
class Terminal:
    phase: c.Phase
    message: str
    error: str | None = None
    compensate: bool = False


def dynamic_workflow(ctx: DaprWorkflowContext, raw_input: dict[str, Any]) -> WorkflowGen:
    run = c.RunInput.model_validate(raw_input)
    return (yield from Interpreter(ctx, run).run())


class Interpreter:
    def __init__(self, ctx: DaprWorkflowContext, run: c.RunInput) -> None:
        self.ctx = ctx
        self.run_input = run
        self.definition = WorkflowDefinition.model_validate(run.definition)
        body = run.body
        outer_names = None
        if body is not None:
            outer_names = NameIndex()
            for node_id, label in body.outer_labels.items():
                outer_names.add(node_id, label)
        self.state = RunState(
            self.definition,
            trigger=run.trigger_data,
            locals=body.locals if body else {},
            outer_outputs=body.outer_outputs if body else {},
            outer_names=outer_names,
        )
        # Loop bodies write their records into the run that owns the loop.
        self.record_instance = body.root_instance_id if body else ctx.instance_id
        self.key_prefix = body.key_prefix if body else ""
        self.records: list[c.EventRecord] = []
        self.in_flight: dict[str, Task[Any]] = {}
        self.handlers: dict[str, Callable[[Task[Any]], None]] = {}
        self.typed: dict[str, Any] = {}
        self.approvals: dict[str, Approval] = {}
        self.loops: dict[str, LoopRun] = {}
        self.terminal: Terminal | None = None
        self.flushes = 0
        self.record_count = 0
        self.last_status: dict[str, Any] | None = None

    # --- helpers ------------------------------------------------------------------------

    def now(self) -> datetime:
        now = self.ctx.current_utc_datetime
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now

    def key(self, node_id: str) -> str:
        return f"{self.key_prefix}{node_id}"

    def node(self, node_id: str) -> SerializedNode:
        return self.state.nodes[node_id]

    def typed_node(self, node_id: str) -> Any:
        if node_id not in self.typed:
            self.typed[node_id] = parse_node(self.node(node_id))
        return self.typed[node_id]

    def record(self, event_type: str, node_id: str | None = None, **data: Any) -> None:
        node_key = self.key(node_id) if node_id is not None else None
        self.record_count += 1
        eid = f"wf:{self.ctx.instance_id}:{self.record_count}"
        self.records.append(
            c.EventRecord(
                eid=eid,
                type=event_type,
                node_key=node_key,
                node_id=node_id,
                at=self.now().isoformat(),
                data=data,
            )
        )

    def node_data(self, node_id: str) -> dict[str, Any]:
        node = self.node(node_id)
        return {"label": node.label, "nodeType": node.type}

    def add_task(self, key: str, task: Task[Any], handler: Callable[[Task[Any]], None]) -> None:
        self.in_flight[key] = task
        self.handlers[key] = handler

    def working_tasks(self) -> int:
        """Tasks that count against the concurrency cap (not timers or approval waits)."""
        return sum(1 for k in self.in_flight if k.startswith(("a:", "l:", "s:", "p:")))

    # --- the run ------------------------------------------------------------------------

    def run(self) -> WorkflowGen:
        self.begin()
        while True:
            self.settle()
            self.launch()
            if self.terminal is not None or not self.in_flight:
                break
            if self.records:
                self.flush()
            self.publish_status()
            yield when_any(list(self.in_flight.values()))
            self.collect()
        return (yield from self.finish())

    def begin(self) -> None:
        run = self.run_input
        if run.body is None:
            self.record(
                "run.started",
                workflowId=self.definition.id,
                name=self.definition.name,
                labels=run.labels,
                parentInstanceId=run.labels.get("parentInstanceId"),
                nodeCount=len(self.definition.nodes),
            )
        for node_id, reused in run.reuse.items():
            if node_id not in self.state.nodes:
                continue
            if reused.status == "skipped":
                self.state.skip(node_id, "skipped in the original run")
                self.record(
                    "node.skipped", node_id, reason="reused from the original run", reused=True
                )
            elif reused.status == "completed":
                self.state.complete(node_id, reused.output, reused.route)
                self.record(
                    "node.completed",
                    node_id,
                    output=reused.output,
                    reused=True,
                    **self.node_data(node_id),
                )
            else:
                self.state.fail(
                    node_id, "failed in the original run", reused.output, continue_on=True
                )
                self.record("node.failed", node_id, error="failed in the original run", reused=True)

    def flush(self) -> None:
        batch = c.RecordBatch(instance_id=self.record_instance, events=self.records)
        self.records = []
        self.flushes += 1
        task: Task[Any] = self.ctx.call_activity(c.ACT_RECORD, input=batch.dump())
        self.add_task(f"r:{self.flushes}", task, lambda _t: None)

    def publish_status(self) -> None:
        phase: c.Phase = "awaiting_approval" if self.approvals else "running"
        pending = next(iter(self.approvals.values()), None)
        status = {
            "phase": phase,
            "progress": self.state.progress(),
            "message": None,
            "currentNodeIds": [self.key(n) for n in self.state.active()],
            "pendingApproval": (
                {
                    "nodeId": self.key(pending.node_id),
                    "eventName": pending.event_name,
                    "message": pending.message,
                    "expiresAt": pending.deadline.isoformat(),
                }
                if pending
                else None
            ),
        }
        if status != self.last_status:
            self.ctx.set_custom_status(json.dumps(status))
            self.last_status = status

    def collect(self) -> None:
        for key in list(self.in_flight):
            task = self.in_flight[key]
            if not task.is_complete:
                continue
            del self.in_flight[key]
            handler = self.handlers.pop(key)
            try:
                handler(task)
            except NodeFailure as failure:
                self.on_node_failure(failure)

    # --- settling: everything decided without I/O ---------------------------------------

    def settle(self) -> None:
        changed = True
        while changed:
            changed = False
            for node_id in self.state.unreachable():
                self.state.skip(node_id, "branch not taken")
                self.record(
                    "node.skipped", node_id, reason="branch not taken", **self.node_data(node_id)
                )
                changed = True
            if self.terminal is not None:
                continue
            for node_id in self.state.ready():
                try:
                    if self.settle_node(node_id):
                        changed = True
                except NodeFailure as failure:
                    self.on_node_failure(failure)
                    changed = True
                if self.terminal is not None:
                    break

    def settle_node(self, node_id: str) -> bool:
        """Decide a ready node inline if it needs no side effect; True when decided."""
        node = self.node(node_id)
        if not node.enabled:
            self.state.pass_through(node_id)
            self.record("node.skipped", node_id, reason="disabled", **self.node_data(node_id))
            return True
        kind = node.kind
        if kind == "trigger":
            self.run_trigger(node_id)
            return True
        if kind == "condition":
            self.run_condition(node_id)
            return True
        if kind == "action":
            typed = self.typed_node_or_fail(node_id)
            if typed.config.action_id in PURE_FUNCTIONS:
                self.run_pure_action(node_id, typed)
                return True
        return False

    def typed_node_or_fail(self, node_id: str) -> Any:
        try:
            return self.typed_node(node_id)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][2:]) or "config"
            raise NodeFailure(node_id, f"invalid config at {where}: {first['msg']}") from None

    def run_trigger(self, node_id: str) -> None:
        typed = self.typed_node_or_fail(node_id)
        assert isinstance(typed, TriggerNode)
        data = self.state.trigger
        self.state.complete(node_id, data)
        self.record("node.completed", node_id, output=data, **self.node_data(node_id))

    def run_condition(self, node_id: str) -> None:
        expression = str(self.node(node_id).config.get("expression", ""))
        try:
            result = evaluate_condition(expression, self.state.scope())
        except (ExpressionError, TemplateError) as exc:
            raise NodeFailure(node_id, str(exc)) from None
        handle = "true" if result else "false"
        output = {"result": result, "expression": expression}
        self.state.complete(node_id, output, handle)
        self.record(
            "node.completed", node_id, output=output, route=handle, **self.node_data(node_id)
        )

    def run_pure_action(self, node_id: str, typed: ActionNode) -> None:
        try:
            node_input = render(typed.config.function_input(), self.state.scope())
            data = run_pure_function(typed.config.action_id, node_input)
        except (TemplateError, ValueError) as exc:
            raise NodeFailure(node_id, str(exc)) from None
        output = envelope(data)
        self.record(
            "node.started",
            node_id,
            input=node_input,
            attempt=1,
            inline=True,
            **self.node_data(node_id),
        )
        self.state.complete(node_id, output)
        self.record("node.completed", node_id, output=output, **self.node_data(node_id))

    # --- launching nodes with side effects ----------------------------------------------

    def launch(self) -> None:
        if self.terminal is not None:
            return
        cap = self.run_input.options.max_concurrency
        for node_id in self.state.ready():
            kind = self.node(node_id).kind
            consumes = kind in ("action", "publish-event", "loop", "sub-workflow")
            if consumes and self.working_tasks() >= cap:
                continue
            try:
                self.start_node(node_id, kind)
            except NodeFailure as failure:
                self.on_node_failure(failure)
            if self.terminal is not None:
                return

    def start_node(self, node_id: str, kind: str) -> None:
        typed = self.typed_node_or_fail(node_id)
        try:
            if kind == "action":
                self.start_action(node_id, typed)
            elif kind == "publish-event":
                self.start_publish(node_id, typed)
            elif kind == "approval-gate":
                self.start_approval(node_id, typed)
            elif kind == "timer":
                self.start_timer(node_id, typed)
            elif kind == "loop":
                self.start_loop(node_id, typed)
            elif kind == "sub-workflow":
                self.start_sub_workflow(node_id, typed)
            else:
                raise NodeFailure(node_id, f"node type {self.node(node_id).type!r} cannot run")
        except TemplateError as exc:
            raise NodeFailure(node_id, str(exc)) from None

    def retry_policy(self, typed: ActionNode) -> RetryPolicy | None:
        retry = typed.config.retry
        if retry is None or retry.max_attempts <= 1:
            return None
        return RetryPolicy(
            first_retry_interval=timedelta(seconds=retry.initial_interval_seconds),
            max_number_of_attempts=retry.max_attempts,
            backoff_coefficient=retry.backoff_coefficient,
            max_retry_interval=(
                timedelta(seconds=retry.max_interval_seconds)
                if retry.max_interval_seconds
                else None
            ),
            retry_timeout=(
                timedelta(seconds=retry.retry_timeout_seconds)
                if retry.retry_timeout_seconds
                else None
            ),
        )

    def action_task(
        self,
        node_id: str,
        node_key: str,
        slug: str,
        node_input: dict[str, Any],
        typed: ActionNode | None,
        compensation_of: str | None = None,
    ) -> c.ActionTask:
        node = self.node(node_id)
        retry = typed.config.retry if typed is not None else None
        return c.ActionTask(
            instance_id=self.record_instance,
            workflow_id=self.definition.id,
            node_key=node_key,
            node_id=node_id,
            node_name=node.label or node.id,
            node_type=node.type,
            function_slug=slug,
            input=node_input,
            timeout_seconds=typed.config.timeout_seconds if typed is not None else None,
            max_attempts=retry.max_attempts if retry is not None else 1,
            compensation_of=compensation_of,
            trace_parent=self.run_input.trace_parent,
        )

    def start_action(self, node_id: str, typed: ActionNode) -> None:
        node_input = render(typed.config.function_input(), self.state.scope())
        request = self.action_task(
            node_id, self.key(node_id), typed.config.action_id, node_input, typed
        )
        request.records, self.records = self.records, []
        task: Task[Any] = self.ctx.call_activity(
            c.ACT_EXECUTE, input=request.dump(), retry_policy=self.retry_policy(typed)
        )
        self.state.start(node_id)
        self.add_task(f"a:{node_id}", task, lambda t: self.on_action_done(node_id, typed, t))

    def on_action_done(self, node_id: str, typed: ActionNode, task: Task[Any]) -> None:
        if task.is_failed:
            message = failure_message(task)
            if typed.config.on_error == "continue":
                output = {"success": False, "data": None, "error": message}
                self.state.fail(node_id, message, output, continue_on=True)
                self.record(
                    "node.failed", node_id, error=message, continued=True, **self.node_data(node_id)
                )
                return
            raise NodeFailure(node_id, message)
        self.state.complete(node_id, task.get_result())

    def start_publish(self, node_id: str, typed: PublishEventNode) -> None:
        data = render(typed.config.data, self.state.scope())
        request = c.PublishTask(
            instance_id=self.record_instance,
            node_key=self.key(node_id),
            node_id=node_id,
            pubsub_name=typed.config.pubsub_name,
            topic=typed.config.topic,
            data=data,
            metadata=typed.config.metadata,
            trace_parent=self.run_input.trace_parent,
        )
        task: Task[Any] = self.ctx.call_activity(c.ACT_PUBLISH, input=request.dump())
        self.state.start(node_id)

        def done(t: Task[Any]) -> None:
            if t.is_failed:
                raise NodeFailure(node_id, failure_message(t))
            self.state.complete(node_id, t.get_result())

        self.add_task(f"p:{node_id}", task, done)

    # approvals

    def start_approval(self, node_id: str, typed: ApprovalNode) -> None:
        message = typed.config.message
        if message is not None:
            message = str(render(message, self.state.scope()))
        deadline = self.now() + typed.config.timeout()
        approval = Approval(node_id, typed.event_name, deadline, message)
        self.approvals[node_id] = approval
        self.state.start(node_id, waiting=True)
        self.record(
            "approval.requested",
            node_id,
            eventName=approval.event_name,
            message=message,
            expiresAt=deadline.isoformat(),
            approvers=typed.config.approvers,
            **self.node_data(node_id),
        )
        self.wait_for_approval(approval)

    def wait_for_approval(self, approval: Approval) -> None:
        remaining = approval.deadline - self.now()
        task: Task[Any] = self.ctx.wait_for_external_event(
            approval.event_name, timeout=max(remaining, timedelta(0))
        )
        self.add_task(f"w:{approval.node_id}", task, lambda t: self.on_approval(approval, t))

    def on_approval(self, approval: Approval, task: Task[Any]) -> None:
        node_id = approval.node_id
        if task.is_failed:
            if isinstance(task.get_exception(), TimeoutError):
                self.answer(approval, "timeout", {"approved": False, "outcome": "timeout"})
                return
            raise NodeFailure(node_id, failure_message(task))
        try:
            response = ApprovalResponse.model_validate(task.get_result())
        except ValidationError as exc:
            self.record(
                "approval.invalid",
                node_id,
                error=f"ignored an approval payload that is not {{approved, reason?, respondedBy?}}: {exc.errors()[0]['msg']}",
            )
            self.wait_for_approval(approval)
            return
        outcome = "approved" if response.approved else "rejected"
        output = {
            "approved": response.approved,
            "reason": response.reason,
            "respondedBy": response.responded_by,
            "outcome": outcome,
        }
        self.answer(approval, outcome, output)

    def answer(self, approval: Approval, outcome: str, output: dict[str, Any]) -> None:
        node_id = approval.node_id
        del self.approvals[node_id]
        event = "approval.timed_out" if outcome == "timeout" else "approval.answered"
        self.record(event, node_id, **output)
        handles = {e.handle for e in self.state.graph.outgoing(node_id)}
        self.state.complete(node_id, output, outcome)
        self.record(
            "node.completed", node_id, output=output, route=outcome, **self.node_data(node_id)
        )
        if outcome != "approved" and outcome not in handles:
            phase: c.Phase = "rejected" if outcome == "rejected" else "timed_out"
            label = self.node(node_id).label or node_id
            reason = output.get("reason")
            message = (
                f"{label}: rejected" + (f" ({reason})" if reason else "")
                if outcome == "rejected"
                else f"{label}: no answer before the deadline"
            )
            self.terminal = Terminal(phase=phase, message=message)

    # timers

    def start_timer(self, node_id: str, typed: TimerNode) -> None:
        delay = typed.config.delay()
        if delay is not None:
            fire_at = self.now() + delay
        else:
            until = render(typed.config.until, self.state.scope())
            fire_at = parse_instant(until, node_id)
        self.state.start(node_id, waiting=True)
        self.record("timer.started", node_id, fireAt=fire_at.isoformat(), **self.node_data(node_id))
        task: Task[Any] = self.ctx.create_timer(max(fire_at, self.now()))

        def fired(_t: Task[Any]) -> None:
            output = {"firedAt": self.now().isoformat(), "scheduledFor": fire_at.isoformat()}
            self.state.complete(node_id, output)
            self.record("node.completed", node_id, output=output, **self.node_data(node_id))

        self.add_task(f"t:{node_id}", task, fired)

    # loops

    def start_loop(self, node_id: str, typed: LoopNode) -> None:
        items = typed.config.items
        if isinstance(items, str):
            items = render(items, self.state.scope())
        if not isinstance(items, list):
            raise NodeFailure(node_id, f"loop items must be a list, got {type(items).__name__}")
        if len(items) > typed.config.max_items:
            raise NodeFailure(
                node_id,
                f"loop has {len(items)} items, more than maxItems ({typed.config.max_items})",
            )
        loop = LoopRun(node_id, items, typed.config.concurrency, typed.config.on_error)
        loop.results = [None] * len(items)
        self.loops[node_id] = loop
        self.state.start(node_id)
        self.record(
            "node.started",
            node_id,
            input={"items": len(items)},
            attempt=1,
            **self.node_data(node_id),
        )
        if not items:
            self.finish_loop(loop)
            return
        self.fill_loop(loop, typed)

    def fill_loop(self, loop: LoopRun, typed: LoopNode) -> None:
        while loop.running < loop.concurrency and loop.next_index < len(loop.items):
            index = loop.next_index
            loop.next_index += 1
            loop.running += 1
            item = loop.items[index]
            iteration_key = f"{self.key(loop.node_id)}[{index}]"
            task: Task[Any]
            if typed.config.action_id is not None:
                node_input = render(
                    typed.config.function_input(), self.state.scope({"item": item, "index": index})
                )
                request = self.action_task(
                    loop.node_id, iteration_key, typed.config.action_id, node_input, None
                )
                task = self.ctx.call_activity(c.ACT_EXECUTE, input=request.dump())
            else:
                assert typed.config.body is not None
                task = self.ctx.call_child_workflow(
                    c.WORKFLOW_NAME,
                    input=self.body_input(loop.node_id, typed, item, index, iteration_key),
                    instance_id=child_instance_id(self.ctx.instance_id, loop.node_id, index),
                )
            self.add_task(
                f"l:{loop.node_id}:{index}", task, self.iteration_handler(loop, typed, index)
            )

    def iteration_handler(
        self, loop: LoopRun, typed: LoopNode, index: int
    ) -> Callable[[Task[Any]], None]:
        def handle(task: Task[Any]) -> None:
            self.on_iteration(loop, typed, index, task)

        return handle

    def body_input(
        self, node_id: str, typed: LoopNode, item: Any, index: int, iteration_key: str
    ) -> dict[str, Any]:
        body = typed.config.body
        assert body is not None
        upstream = self.state.graph.upstream(node_id)
        outer_outputs = {
            n: self.state.outputs[n] for n in self.state.outputs if n in upstream or n == "trigger"
        }
        outer_labels = {n: self.node(n).label for n in self.state.nodes if n in upstream}
        definition = {
            "id": f"{self.definition.id}.{node_id}",
            "name": f"{self.node(node_id).label or node_id} body",
            "nodes": [n.to_json_dict() for n in body.nodes],
            "edges": body.edges,
        }
        return c.RunInput(
            definition=definition,
            trigger_data=self.state.trigger,
            labels=self.run_input.labels,
            options=self.run_input.options,
            trace_parent=self.run_input.trace_parent,
            body=c.BodyScope(
                root_instance_id=self.record_instance,
                key_prefix=f"{iteration_key}.",
                locals={"item": item, "index": index},
                outer_outputs=outer_outputs,
                outer_labels=outer_labels,
            ),
        ).dump()

    def on_iteration(self, loop: LoopRun, typed: LoopNode, index: int, task: Task[Any]) -> None:
        loop.running -= 1
        loop.done += 1
        if task.is_failed:
            message = failure_message(task)
            if loop.on_error == "stop":
                raise NodeFailure(loop.node_id, f"iteration {index} failed: {message}")
            loop.results[index] = {"success": False, "error": message, "index": index}
        else:
            result = task.get_result()
            if typed.config.body is not None and isinstance(result, dict):
                result = result.get("result")
            loop.results[index] = result
        if loop.done == len(loop.items):
            self.finish_loop(loop)
        elif self.terminal is None:
            self.fill_loop(loop, typed)

    def finish_loop(self, loop: LoopRun) -> None:
        del self.loops[loop.node_id]
        output = {"results": loop.results, "count": len(loop.results)}
        self.state.complete(loop.node_id, output)
        self.record("node.completed", loop.node_id, output=output, **self.node_data(loop.node_id))

    # sub-workflows

    def start_sub_workflow(self, node_id: str, typed: SubWorkflowNode) -> None:
        child_trigger = (
            render(typed.config.input, self.state.scope())
            if typed.config.input is not None
            else self.state.trigger
        )
        self.state.start(node_id)
        inline = typed.config.model_extra.get("definition") if typed.config.model_extra else None
        if isinstance(inline, dict):
            self.call_child(node_id, typed, inline, child_trigger)
            return
        request = c.LoadDefinitionTask(
            workflow_id=typed.config.workflow_id,
            version=typed.config.version,
            labels=self.run_input.labels,
        )
        task: Task[Any] = self.ctx.call_activity(c.ACT_LOAD_DEFINITION, input=request.dump())

        def loaded(t: Task[Any]) -> None:
            if t.is_failed:
                raise NodeFailure(node_id, failure_message(t))
            self.call_child(node_id, typed, t.get_result()["definition"], child_trigger)

        self.add_task(f"s:{node_id}:load", task, loaded)

    def call_child(
        self, node_id: str, typed: SubWorkflowNode, definition: dict[str, Any], trigger: Any
    ) -> None:
        child_id = child_instance_id(self.ctx.instance_id, node_id)
        labels = {
            **{
                k: v
                for k, v in self.run_input.labels.items()
                if k in ("companyId", "organizationId", "projectId")
            },
            "workflowId": typed.config.workflow_id,
            "parentInstanceId": self.ctx.instance_id,
            "parentNodeId": node_id,
        }
        child_input = c.RunInput(
            definition=definition,
            trigger_data=trigger,
            labels=labels,
            options=self.run_input.options,
            trace_parent=self.run_input.trace_parent,
        )
        self.record(
            "node.started",
            node_id,
            childInstanceId=child_id,
            attempt=1,
            input=trigger,
            **self.node_data(node_id),
        )
        task: Task[Any] = self.ctx.call_child_workflow(
            c.WORKFLOW_NAME, input=child_input.dump(), instance_id=child_id
        )

        def done(t: Task[Any]) -> None:
            if t.is_failed:
                raise NodeFailure(node_id, f"sub-workflow {child_id} failed: {failure_message(t)}")
            result = t.get_result() or {}
            output = {
                "instanceId": child_id,
                "phase": result.get("phase"),
                "result": result.get("result"),
                "outputs": result.get("outputs", {}),
            }
            self.state.complete(node_id, output)
            self.record("node.completed", node_id, output=output, **self.node_data(node_id))

        self.add_task(f"s:{node_id}", task, done)

    # --- failures, compensation, the end -------------------------------------------------

    def on_node_failure(self, failure: NodeFailure) -> None:
        node_id = failure.node_id
        if self.state.status(node_id) not in ("failed", "completed"):
            self.state.fail(node_id, failure.message)
        self.approvals.pop(node_id, None)
        self.loops.pop(node_id, None)
        self.record(
            "node.failed", node_id, error=failure.message, final=True, **self.node_data(node_id)
        )
        if self.terminal is not None:
            return
        on_error = "stop"
        node = self.node(node_id)
        if node.kind == "action":
            on_error = str(node.config.get("onError", "stop"))
        label = node.label or node_id
        self.terminal = Terminal(
            phase="failed",
            message=f"{label} failed: {failure.message}",
            error=f"node {node_id} ({label}) failed: {failure.message}",
            compensate=on_error == "compensate",
        )

    def abandon_waits(self) -> None:
        """After the run's outcome is decided, stop waiting for approvals, timers and loops."""
        for key in list(self.in_flight):
            if key.startswith(("w:", "t:", "s:", "l:")):
                node_id = key.split(":")[1]
                del self.in_flight[key]
                del self.handlers[key]
                if self.state.status(node_id) in ("running", "waiting"):
                    self.state.skip(node_id, "cancelled: the run ended")
                    self.record("node.skipped", node_id, reason="cancelled: the run ended")
        self.approvals.clear()

    def finish(self) -> WorkflowGen:
        terminal = self.terminal
        if terminal is not None:
            self.abandon_waits()
            # Let started activities land so compensation sees every completed step.
            while any(k.startswith(("a:", "p:", "r:")) for k in self.in_flight):
                yield when_any(list(self.in_flight.values()))
                self.collect_quietly()
            if terminal.compensate:
                yield from self.compensate()
        for node_id in self.state.unreachable():
            self.state.skip(node_id, "branch not taken")
        for node_id, node_state in self.state.node_state.items():
            if node_state.status == "pending":
                self.state.skip(node_id, "not run: the run ended")
                self.record(
                    "node.skipped",
                    node_id,
                    reason="not run: the run ended",
                    **self.node_data(node_id),
                )
        phase: c.Phase = terminal.phase if terminal else "completed"
        failed = terminal is not None and terminal.phase == "failed"
        final_status: dict[str, Any] = {
            "phase": phase,
            "progress": 100,
            "message": terminal.message if terminal else None,
            "currentNodeIds": [],
            "pendingApproval": None,
        }
        self.ctx.set_custom_status(json.dumps(final_status))
        result = c.RunResult(
            phase=phase,
            message=terminal.message if terminal else None,
            outputs={k: v for k, v in self.state.outputs.items() if k in self.state.nodes},
            result=self.sink_result(),
        )
        if self.run_input.body is None:
            finish = c.FinishTask(
                instance_id=self.ctx.instance_id,
                runtime_status="FAILED" if failed else "COMPLETED",
                phase=phase,
                message=result.message,
                error=terminal.error if terminal else None,
                events=self.records,
            )
            self.records = []
            yield self.ctx.call_activity(c.ACT_FINISH, input=finish.dump())
        elif self.records:
            batch = c.RecordBatch(instance_id=self.record_instance, events=self.records)
            self.records = []
            yield self.ctx.call_activity(c.ACT_RECORD, input=batch.dump())
        if failed:
            assert terminal is not None
            raise RunFailed(terminal.error or terminal.message)
        return result.dump()

    def collect_quietly(self) -> None:
        """Collect finished tasks once the outcome is decided: record, never re-decide."""
        for key in list(self.in_flight):
            task = self.in_flight[key]
            if not task.is_complete:
                continue
            del self.in_flight[key]
            handler = self.handlers.pop(key)
            try:
                handler(task)
            except NodeFailure as failure:
                self.state.fail(failure.node_id, failure.message)
                self.record("node.failed", failure.node_id, error=failure.message, final=True)

    def compensate(self) -> WorkflowGen:
        """Saga: run completed nodes' ``compensate`` actions in reverse completion order."""
        done = [n for n in self.state.completion_order if self.state.status(n) == "completed"]
        for node_id in reversed(done):
            node = self.node(node_id)
            if node.kind != "action" or not isinstance(node.config.get("compensate"), dict):
                continue
            typed = self.typed_node(node_id)
            assert isinstance(typed, ActionNode)
            assert typed.config.compensate is not None
            comp = typed.config.compensate
            try:
                comp_input = render(
                    comp.input, self.state.scope({"self": self.state.outputs.get(node_id)})
                )
            except TemplateError as exc:
                self.record("node.compensation_failed", node_id, error=str(exc))
                continue
            request = self.action_task(
                node_id,
                f"{self.key(node_id)}#compensate",
                comp.action_id,
                comp_input,
                None,
                compensation_of=node_id,
            )
            task: Task[Any] = self.ctx.call_activity(c.ACT_EXECUTE, input=request.dump())
            try:
                output = yield task
            except TaskFailedError as exc:
                self.record("node.compensation_failed", node_id, error=exc.details.message)
                continue
            self.state.mark_compensated(node_id)
            self.record("node.compensated", node_id, output=output, action=comp.action_id)
        return {}

    def sink_result(self) -> Any:
        sinks = [
            n
            for n in self.state.nodes
            if not self.state.graph.outgoing(n) and n in self.state.outputs
        ]
        if len(sinks) == 1:
            return self.state.outputs[sinks[0]]
        return {n: self.state.outputs[n] for n in sinks}


def child_instance_id(parent: str, node_id: str, index: int | None = None) -> str:
    """Deterministic child ids using only characters every Dapr backend accepts."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", node_id)
    return f"{parent}--{safe}" + (f"-{index}" if index is not None else "")


def failure_message(task: Task[Any]) -> str:
    exc = task.get_exception()
    if isinstance(exc, TaskFailedError):
        return exc.details.message or str(exc)
    return str(exc) or type(exc).__name__


def parse_instant(value: Any, node_id: str) -> datetime:
    if not isinstance(value, str):
        raise NodeFailure(node_id, f"timer 'until' must be an ISO 8601 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NodeFailure(node_id, f"timer 'until' is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
