from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from admin_api.schemas import ApiModel, RequestModel

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class AuditEventOut(ApiModel):
    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    actor_label: str
    action: str
    resource_type: str | None
    resource_id: str | None
    company_id: str | None
    organization_id: str | None
    project_id: str | None
    ip: str | None
    user_agent: str | None
    success: bool
    detail: dict[str, Any]


class ExternalTenant(RequestModel):
    company_id: str = Field(pattern=ID_PATTERN)
    organization_id: str | None = Field(default=None, pattern=ID_PATTERN)
    project_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ExternalAuditEvent(RequestModel):
    """An event another service records here (e.g. an approval decision)."""

    action: str = Field(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")
    actor_kind: Literal["user", "api_key", "service"] = "user"
    actor_id: str | None = Field(default=None, pattern=ID_PATTERN)
    actor_label: str = Field(default="", max_length=320, pattern=r"^[^\x00-\x1f]*$")
    resource_type: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")
    resource_id: str | None = Field(default=None, pattern=ID_PATTERN)
    tenant: ExternalTenant | None = None
    success: bool = True
    detail: dict[str, Any] = Field(default_factory=dict)
