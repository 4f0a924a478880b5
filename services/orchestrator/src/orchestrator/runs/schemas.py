"""Request and response models of the v2 API (seed 003's shapes, camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RuntimeStatus = Literal["RUNNING", "COMPLETED", "FAILED", "TERMINATED", "PENDING", "SUSPENDED"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class StartOptions(_Request):
    max_concurrency: int | None = Field(default=None, ge=1, le=200, alias="maxConcurrency")


class StartRequest(_Request):
    definition: dict[str, Any]
    trigger_data: Any = Field(default=None, alias="triggerData")
    integrations: dict[str, dict[str, Any]] | None = None
    labels: dict[str, str] | None = None
    options: StartOptions | None = None


class StartResponse(_Response):
    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    status: Literal["started"] = "started"


class PendingApproval(_Response):
    node_id: str = Field(alias="nodeId")
    event_name: str = Field(alias="eventName")
    message: str | None = None
    expires_at: str | None = Field(default=None, alias="expiresAt")


class StatusResponse(_Response):
    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    runtime_status: RuntimeStatus = Field(alias="runtimeStatus")
    phase: str
    progress: int
    message: str | None = None
    current_node_id: str | None = Field(default=None, alias="currentNodeId")
    current_node_ids: list[str] = Field(default_factory=list, alias="currentNodeIds")
    pending_approval: PendingApproval | None = Field(default=None, alias="pendingApproval")
    outputs: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    """The output of the workflow's last node (a map by node id when it ends in several)."""
    error: str | None = None
    started_at: datetime | None = Field(default=None, alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    labels: dict[str, str] = Field(default_factory=dict)
    parent_instance_id: str | None = Field(default=None, alias="parentInstanceId")


class RaiseEventRequest(_Request):
    event_name: str = Field(alias="eventName", min_length=1, max_length=200)
    event_data: Any = Field(default=None, alias="eventData")


class ApprovalRequest(_Request):
    approved: bool
    reason: str | None = Field(default=None, max_length=2000)


class AcceptedResponse(_Response):
    instance_id: str = Field(alias="instanceId")
    status: str


class RunSummary(_Response):
    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    name: str
    runtime_status: str = Field(alias="runtimeStatus")
    phase: str
    progress: int
    message: str | None = None
    error: str | None = None
    labels: dict[str, str]
    created_at: datetime = Field(alias="createdAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    duration_ms: float | None = Field(default=None, alias="durationMs")
    parent_instance_id: str | None = Field(default=None, alias="parentInstanceId")
    replay_of: str | None = Field(default=None, alias="replayOf")
    rerun_of: str | None = Field(default=None, alias="rerunOf")


class RunPage(_Response):
    items: list[RunSummary]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class TimelineNode(_Response):
    node_key: str = Field(alias="nodeKey")
    node_id: str = Field(alias="nodeId")
    label: str
    type: str
    status: str
    attempts: int
    started_at: datetime | None = Field(default=None, alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    duration_ms: float | None = Field(default=None, alias="durationMs")
    input: Any = None
    output: Any = None
    error: str | None = None
    route: str | None = None
    reason: str | None = None
    parent_key: str | None = Field(default=None, alias="parentKey")
    compensation: dict[str, Any] | None = None
    approval: dict[str, Any] | None = None
    attempt_errors: list[dict[str, Any]] = Field(default_factory=list, alias="attemptErrors")
    child_instance_id: str | None = Field(default=None, alias="childInstanceId")


class Timeline(_Response):
    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    runtime_status: str = Field(alias="runtimeStatus")
    phase: str
    started_at: datetime | None = Field(default=None, alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    nodes: list[TimelineNode]


class RerunRequest(_Request):
    from_node_id: str = Field(alias="fromNodeId", min_length=1)


class ReplayRequest(_Request):
    trigger_data: Any = Field(default=None, alias="triggerData")


class DerivedRunResponse(_Response):
    instance_id: str = Field(alias="instanceId")
    workflow_id: str = Field(alias="workflowId")
    status: Literal["started"] = "started"
    source_instance_id: str = Field(alias="sourceInstanceId")
    reused_node_ids: list[str] = Field(default_factory=list, alias="reusedNodeIds")


class NodeSide(_Response):
    status: str | None = None
    output: Any = None
    error: str | None = None
    attempts: int | None = None
    duration_ms: float | None = Field(default=None, alias="durationMs")


class NodeDiff(_Response):
    node_key: str = Field(alias="nodeKey")
    changed: list[str]
    left: NodeSide
    right: NodeSide


class RunDiff(_Response):
    left: str
    right: str
    same_definition: bool = Field(alias="sameDefinition")
    run: dict[str, dict[str, Any]]
    nodes: list[NodeDiff]
    unchanged_node_keys: list[str] = Field(alias="unchangedNodeKeys")
