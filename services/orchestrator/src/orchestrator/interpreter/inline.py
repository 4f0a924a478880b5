"""``dynamic_workflow`` run in this process, with no sidecar.

``execute_turn``: one turn by the SDK's own orchestration executor (the same replay and
actions a Dapr worker sends back); the simulator drives runs with it.

``run_instantly``: instant runs. A run whose first turn ends in nothing but
``finish_run`` has no side effect and nothing to wait for (only triggers, conditions,
set/transform and disabled nodes), so the API evaluates it at once, in one pass of the
workflow function, and stores it finished in one transaction instead of sending it
through the engine. Anything else (an action, a timer, an approval, a child, a
compensation) and the run goes to the engine unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from dapr.ext.workflow import DaprWorkflowContext
from dapr.ext.workflow._durabletask import task as dt_task
from dapr.ext.workflow._durabletask import worker as dt_worker
from dapr.ext.workflow._durabletask.internal import helpers
from dapr.ext.workflow._durabletask.internal import protos as pb
from google.protobuf.timestamp_pb2 import Timestamp

from orchestrator.interpreter import contracts as c
from orchestrator.interpreter.pure import PURE_FUNCTIONS
from orchestrator.interpreter.workflow import RunFailed, dynamic_workflow
from workflow_core.model import WorkflowDefinition

_log = logging.getLogger("orchestrator.inline")
_log.setLevel(logging.WARNING)  # the executor logs every turn at INFO


def _orchestrator(ctx: dt_task.OrchestrationContext, inp: Any) -> Any:
    return dynamic_workflow(DaprWorkflowContext(ctx), inp)


def registry() -> dt_worker._Registry:
    found = dt_worker._Registry()  # type: ignore[no-untyped-call]
    found.add_named_orchestrator(c.WORKFLOW_NAME, _orchestrator)
    return found


_REGISTRY = registry()


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC).replace(tzinfo=None))
    return stamp


def turn_started(now: datetime) -> pb.HistoryEvent:
    event = helpers.new_workflow_started_event()
    event.timestamp.CopyFrom(timestamp(now))
    return event


def execute_turn(
    instance_id: str,
    history: list[pb.HistoryEvent],
    new_events: list[pb.HistoryEvent],
    registry: dt_worker._Registry = _REGISTRY,
) -> Any:
    """Replay ``history``, apply ``new_events``; returns the executor's result (actions,
    custom status)."""
    return dt_worker._OrchestrationExecutor(registry, _log).execute(
        instance_id, history, new_events
    )


@dataclass(frozen=True)
class InstantRun:
    """A run decided entirely by its first turn."""

    runtime_status: Literal["COMPLETED", "FAILED"]
    finish: c.FinishTask
    result: c.RunResult | None
    """The workflow's output (None when it failed)."""
    failure: str | None


class _NeedsEngine(BaseException):
    """The workflow asked for something only the engine can give. A BaseException, so
    no ``except Exception`` in the workflow code can swallow it."""


class _FinishScheduled:
    """What ``call_activity(finish_run)`` hands the workflow: the task it yields."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload


class _FirstTurnContext:
    """The workflow context of an instant run's single pass: the clock is the start time,
    status updates are dropped (the run is over before anyone could read them), and only
    ``finish_run`` may be scheduled. Anything else means the run needs the engine."""

    is_replaying = False

    def __init__(self, instance_id: str, now: datetime) -> None:
        self.instance_id = instance_id
        self.current_utc_datetime = now

    def set_custom_status(self, _status: Any) -> None:
        return None

    def call_activity(self, activity: Any, *, input: Any = None, **_options: Any) -> Any:
        if activity == c.ACT_FINISH:
            return _FinishScheduled(input)
        raise _NeedsEngine

    def __getattr__(self, name: str) -> Any:  # timers, external events, child workflows
        raise _NeedsEngine


def run_instantly(instance_id: str, run_input: dict[str, Any], now: datetime) -> InstantRun | None:
    """Evaluate the run in one pass if its first turn ends it with no side effect;
    ``None`` means the run needs the engine (its first turn would schedule something
    else). The workflow function is the engine's own; the tests hold the outcome to the
    SDK executor's, event for event."""

    ctx: Any = _FirstTurnContext(instance_id, now)
    workflow = dynamic_workflow(ctx, run_input)
    finish: c.FinishTask | None = None
    try:
        first = next(workflow)
        if not isinstance(first, _FinishScheduled):
            return None
        finish = c.FinishTask.model_validate(first.payload)
        workflow.send(None)  # finish_run "completed": the workflow returns or raises
    except StopIteration as returned:
        if finish is None:  # it returned without finishing: not a top-level run
            return None
        return InstantRun("COMPLETED", finish, c.RunResult.model_validate(returned.value), None)
    except RunFailed as failed:
        return InstantRun("FAILED", finish, None, str(failed)) if finish else None
    except _NeedsEngine:
        return None
    finally:
        workflow.close()
    return None  # it yielded again after finish_run: not a finished pure run


def may_run_instantly(definition: WorkflowDefinition) -> bool:
    """A cheap look before the real test (``run_instantly``): every enabled node is one
    the interpreter decides inline (trigger, condition, a pure action)."""
    for node in definition.nodes:
        if not node.enabled or node.kind in ("trigger", "condition"):
            continue
        if node.kind == "action" and node.config.get("actionId") in PURE_FUNCTIONS:
            continue
        return False
    return True
