"""What the workflow and its activities pass to each other (JSON through Dapr)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WORKFLOW_NAME = "dynamic_workflow"
ACT_EXECUTE = "execute_action"
ACT_PUBLISH = "publish_event"
ACT_RECORD = "record_events"
ACT_FINISH = "finish_run"
ACT_LOAD_DEFINITION = "load_definition"

Phase = Literal[
    "pending",
    "running",
    "awaiting_approval",
    "completed",
    "failed",
    "rejected",
    "timed_out",
    "cancelled",
]
NodeStatus = Literal[
    "pending", "running", "waiting", "completed", "failed", "skipped", "compensated"
]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class RunOptions(_Model):
    max_concurrency: int = Field(default=10, ge=1, le=200, alias="maxConcurrency")


class ReusedNode(_Model):
    """A node result carried over from an earlier run (rerun from a node)."""

    status: Literal["completed", "skipped", "failed"]
    output: Any = None
    route: str | None = None


class BodyScope(_Model):
    """How a loop-body child run sees the run around it."""

    root_instance_id: str = Field(alias="rootInstanceId")
    key_prefix: str = Field(alias="keyPrefix")
    locals: dict[str, Any] = Field(default_factory=dict)
    outer_outputs: dict[str, Any] = Field(default_factory=dict, alias="outerOutputs")
    outer_labels: dict[str, str] = Field(default_factory=dict, alias="outerLabels")


class RunInput(_Model):
    definition: dict[str, Any]
    trigger_data: Any = Field(default=None, alias="triggerData")
    labels: dict[str, str] = Field(default_factory=dict)
    options: RunOptions = Field(default_factory=RunOptions)
    trace_parent: str | None = Field(default=None, alias="traceParent")
    reuse: dict[str, ReusedNode] = Field(default_factory=dict)
    body: BodyScope | None = None


class EventRecord(_Model):
    """One execution event, plus how it changes the node/run view. ``eid`` is
    deterministic, so a record delivered twice (activities are at-least-once) is
    stored once."""

    eid: str
    type: str
    node_key: str | None = Field(default=None, alias="nodeKey")
    node_id: str | None = Field(default=None, alias="nodeId")
    at: str
    data: dict[str, Any] = Field(default_factory=dict)


class RecordBatch(_Model):
    instance_id: str = Field(alias="instanceId")
    events: list[EventRecord]


class ActionTask(_Model):
    """Call one function through function-runner and record the node's progress."""

    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    node_key: str = Field(alias="nodeKey")
    node_id: str = Field(alias="nodeId")
    node_name: str = Field(alias="nodeName")
    node_type: str = Field(default="action", alias="nodeType")
    function_slug: str = Field(alias="functionSlug")
    input: dict[str, Any]
    node_outputs: dict[str, Any] = Field(default_factory=dict, alias="nodeOutputs")
    timeout_seconds: float | None = Field(default=None, alias="timeoutSeconds")
    max_attempts: int = Field(default=1, alias="maxAttempts")
    compensation_of: str | None = Field(default=None, alias="compensationOf")
    trace_parent: str | None = Field(default=None, alias="traceParent")
    tenant_id: str | None = Field(default=None, alias="tenantId")
    """The run's project: function-runner looks its stored credentials up under it."""
    credential_name: str | None = Field(default=None, alias="credentialName")
    records: list[EventRecord] = Field(default_factory=list)
    """The workflow's own pending records (skips, conditions, ...), written first, in the
    same transaction as ``node.started``: no separate activity, and the log keeps the
    order in which things happened."""


class PublishTask(_Model):
    instance_id: str = Field(alias="instanceId")
    node_key: str = Field(alias="nodeKey")
    node_id: str = Field(alias="nodeId")
    pubsub_name: str = Field(alias="pubsubName")
    topic: str
    data: Any = None
    metadata: dict[str, str] = Field(default_factory=dict)
    trace_parent: str | None = Field(default=None, alias="traceParent")


class FinishTask(_Model):
    instance_id: str = Field(alias="instanceId")
    runtime_status: Literal["COMPLETED", "FAILED"] = Field(alias="runtimeStatus")
    phase: Phase
    message: str | None = None
    error: str | None = None
    events: list[EventRecord] = Field(default_factory=list)

    def records(self, now: str) -> list[EventRecord]:
        """The run's last records: the workflow's pending ones, then ``run.completed`` or
        ``run.failed`` (stamped with the last record's time, else ``now``)."""
        final = EventRecord(
            eid=f"wf:{self.instance_id}:finish",
            type="run.completed" if self.runtime_status == "COMPLETED" else "run.failed",
            at=self.events[-1].at if self.events else now,
            data={"phase": self.phase, "message": self.message, "error": self.error},
        )
        return [*self.events, final]


class LoadDefinitionTask(_Model):
    workflow_id: str = Field(alias="workflowId")
    version: int | str = "active"
    labels: dict[str, str] = Field(default_factory=dict)


class RunResult(_Model):
    """The workflow's output: the phase it ended in, every node's output, and ``result``:
    the output of the sink node (or a map of sink id -> output when there are several)."""

    phase: Phase
    message: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
