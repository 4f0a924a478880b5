"""Trigger state, firings and webhook settings as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from admin_api.schemas import ApiModel

TriggerKind = Literal["manual", "webhook", "schedule", "event"]
FiringStatus = Literal["pending", "started", "skipped", "queued", "missed", "failed", "duplicate"]


class TriggerOut(ApiModel):
    id: str
    node_id: str
    kind: TriggerKind
    active: bool
    version: int
    generation: int
    config: dict[str, Any]
    last_fired_at: datetime | None = None
    next_fire_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    webhook_path: str | None = Field(
        default=None, description="the public path on the BFF (webhook triggers)"
    )


class FiringOut(ApiModel):
    id: str
    trigger_id: str | None
    kind: TriggerKind
    occurrence_key: str
    fired_at: datetime
    scheduled_for: datetime | None = None
    status: FiringStatus
    instance_id: str | None = None
    error: str | None = None
    missed_count: int = 0
    version: int


class WebhookOut(ApiModel):
    path: str
    active: bool
    auth: Literal["hmac", "bearer", "none"] | None = Field(
        default=None, description="of the active webhook trigger (none when inactive)"
    )
    mode: Literal["async", "sync"] | None = None
    has_secret: bool


class WebhookSecretOut(ApiModel):
    secret: str
    path: str
    rotated: bool = False


class WebhookAccepted(ApiModel):
    instance_id: str
    firing_id: str


class WebhookFinished(ApiModel):
    instance_id: str
    runtime_status: str | None = None
    result: Any = None
    outputs: dict[str, Any] = Field(default_factory=dict)


def webhook_path(workflow_id: str) -> str:
    return f"/hooks/{workflow_id}"
