from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from admin_api.schemas import ApiModel, Description, Message, Name, RequestModel, Slug

Definition = dict[str, Any]


class WorkflowCreate(RequestModel):
    name: Name
    slug: Slug | None = None
    description: Description = ""
    definition: Definition | None = Field(
        default=None, description="seed 003 WorkflowDefinition; saved as version 1"
    )
    message: Message = ""


class WorkflowUpdate(RequestModel):
    name: Name | None = None
    slug: Slug | None = None
    description: Description | None = None


class SaveDefinition(RequestModel):
    definition: Definition
    message: Message = ""


class RestoreRequest(RequestModel):
    message: Message = ""


class DeployRequest(RequestModel):
    version: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="default: the latest version"
    )


class RunRequest(RequestModel):
    trigger_data: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(
        default=None, ge=1, le=1_000_000_000, description="default: the active version"
    )


class ImportRequest(RequestModel):
    format: Literal["json", "yaml"]
    content: str = Field(min_length=1, max_length=2_000_000)
    name: Name | None = None
    message: Message = ""


class WorkflowOut(ApiModel):
    id: str
    project_id: str
    name: str
    slug: str
    description: str
    status: Literal["draft", "deployed", "stopped"]
    latest_version: int
    active_version: int | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    deployed_at: datetime | None
    deployed_by: str | None
    stopped_at: datetime | None
    stopped_by: str | None


class VersionSummary(ApiModel):
    number: int
    sha256: str
    author_id: str | None
    author_label: str
    message: str
    restored_from: int | None
    created_at: datetime


class VersionOut(VersionSummary):
    definition: Definition


class Warning(ApiModel):
    code: str
    message: str
    node_id: str | None = None


class SaveResult(ApiModel):
    created: bool = Field(description="false when the definition equals the latest version")
    version: VersionSummary
    warnings: list[Warning] = Field(default_factory=list)


class WorkflowCreated(WorkflowOut):
    version: VersionSummary | None = None
    warnings: list[Warning] = Field(default_factory=list)


class DiffOut(ApiModel):
    from_version: int
    to_version: int
    nodes: dict[str, Any]
    edges: dict[str, Any]
    workflow: list[dict[str, Any]]


class RunStarted(ApiModel):
    instance_id: str
    workflow_id: str
    version: int
    status: str
