"""Workflows and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from admin_api.db import Base, created_column, id_column, utcnow


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("project_id", "slug"),)

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    latest_version: Mapped[int] = mapped_column(default=0)
    active_version: Mapped[int | None] = mapped_column(default=None)
    created_by: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deployed_at: Mapped[datetime | None] = mapped_column(default=None)
    deployed_by: Mapped[str | None] = mapped_column(String(36), default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    stopped_by: Mapped[str | None] = mapped_column(String(36), default=None)


class WorkflowVersion(Base):
    """Never updated (a database trigger refuses it); deleted only with its workflow."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "number"),)

    id: Mapped[str] = id_column()
    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    definition: Mapped[dict[str, Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str | None] = mapped_column(String(36), default=None)
    author_label: Mapped[str] = mapped_column(String(320), default="")
    message: Mapped[str] = mapped_column(String(1000), default="")
    restored_from: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = created_column()
