"""Trigger tables: one row per (workflow, trigger node), the firings, webhook secrets
(encrypted) and the webhook signatures already used (replay refusal)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admin_api.db import Base, id_column, utcnow


class Trigger(Base):
    """The trigger of a workflow's trigger node. ``generation`` is the workflow's
    activation counter (every deploy/stop raises it on all its rows): a Dapr job or event
    delivery that carries another generation, or reaches an inactive row, is ignored."""

    __tablename__ = "triggers"
    __table_args__ = (UniqueConstraint("workflow_id", "node_id"),)

    id: Mapped[str] = id_column()
    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    node_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=False, index=True)
    version: Mapped[int]
    generation: Mapped[int] = mapped_column(default=1)
    config: Mapped[dict[str, Any]]
    anchor_at: Mapped[datetime | None] = mapped_column(default=None)
    """Where a fixed interval counts from (the activation that set this schedule)."""
    next_fire_at: Mapped[datetime | None] = mapped_column(default=None)
    last_fired_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(2000), default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    job_scheduled: Mapped[bool] = mapped_column(default=False)
    """Whether a Dapr job may exist for this row (the reconciler deletes it when inactive)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Firing(Base):
    """One occurrence of a trigger, unique per (workflow, occurrence key), so a swap, a
    redelivery or a second replica never starts a run twice."""

    __tablename__ = "trigger_firings"
    __table_args__ = (
        UniqueConstraint("workflow_id", "occurrence_key"),
        Index("ix_trigger_firings_workflow_fired", "workflow_id", "fired_at", "id"),
        Index("ix_trigger_firings_trigger_status", "trigger_id", "status"),
    )

    id: Mapped[str] = id_column()
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    trigger_id: Mapped[str | None] = mapped_column(
        ForeignKey("triggers.id", ondelete="CASCADE"), default=None
    )
    node_id: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    occurrence_key: Mapped[str] = mapped_column(String(500))
    version: Mapped[int]
    generation: Mapped[int] = mapped_column(default=0)
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_for: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """pending | started | skipped | queued | missed | failed | duplicate"""
    instance_id: Mapped[str | None] = mapped_column(String(200), default=None)
    error: Mapped[str | None] = mapped_column(String(2000), default=None)
    missed_count: Mapped[int] = mapped_column(default=0)
    trigger_data: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """What the run starts with (kept while pending or queued)."""
    response: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """A webhook's answer ``{status, body}``, replayed for its Idempotency-Key."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookSecret(Base):
    """One per workflow, stable across deploys; AES-256-GCM sealed (never plain text)."""

    __tablename__ = "webhook_secrets"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class UsedSignature(Base):
    """An HMAC signature already accepted, remembered for the timestamp window."""

    __tablename__ = "webhook_signatures"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


__all__ = ["Firing", "Trigger", "UsedSignature", "WebhookSecret"]
