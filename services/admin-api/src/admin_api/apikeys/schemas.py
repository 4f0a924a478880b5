from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from admin_api.schemas import ApiModel, Name, RequestModel


class ApiKeyCreate(RequestModel):
    name: Name
    role: Literal["viewer", "editor", "admin"] = "viewer"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class ApiKeyOut(ApiModel):
    id: str
    project_id: str
    name: str
    prefix: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the secret; shown only in this response")
