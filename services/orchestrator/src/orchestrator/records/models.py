"""Tables of the orchestrator's own database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: Json, list[Any]: Json, Any: Json}


class Run(Base):
    """One workflow run (instance): the materialized view of its events."""

    __tablename__ = "runs"

    instance_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    definition: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    trigger_data: Mapped[Any] = mapped_column(Json, nullable=True)
    labels: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    project_id: Mapped[str | None] = mapped_column(String(100), index=True, nullable=True)
    runtime_status: Mapped[str] = mapped_column(String(20), default="PENDING", index=True)
    phase: Mapped[str] = mapped_column(String(30), default="pending")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    parent_instance_id: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    replay_of: Mapped[str | None] = mapped_column(String(300), nullable=True)
    rerun_of: Mapped[str | None] = mapped_column(String(300), nullable=True)
    rerun_from: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[Any] = mapped_column(Json, nullable=True)
    """The workflow's result, stored for instant runs (the engine never holds them)."""

    __table_args__ = (Index("ix_runs_project_created", "project_id", "created_at"),)


class RunLabel(Base):
    """Labels as rows so runs can be filtered by any label with an index."""

    __tablename__ = "run_labels"

    instance_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(300))

    __table_args__ = (Index("ix_run_labels_key_value", "key", "value"),)


class RunNode(Base):
    """The state of one node (or loop iteration, or compensation) of a run."""

    __tablename__ = "run_nodes"

    instance_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    node_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(300), default="")
    node_type: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    input: Mapped[Any] = mapped_column(Json, nullable=True)
    output: Mapped[Any] = mapped_column(Json, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    order: Mapped[int] = mapped_column(Integer, default=0)


class ExecutionEvent(Base):
    """Append-only log of everything that happened in a run, in order (``seq``)."""

    __tablename__ = "execution_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    instance_id: Mapped[str] = mapped_column(String(300))
    seq: Mapped[int] = mapped_column(BigInteger)
    eid: Mapped[str] = mapped_column(String(400))
    type: Mapped[str] = mapped_column(String(40))
    node_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    __table_args__ = (
        UniqueConstraint("instance_id", "seq", name="uq_events_instance_seq"),
        UniqueConstraint("instance_id", "eid", name="uq_events_instance_eid"),
    )


class ActivityResult(Base):
    """Result of a finished activity execution, so a redelivered one returns it again
    instead of repeating its side effect."""

    __tablename__ = "activity_results"

    instance_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    execution_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    result: Mapped[Any] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[str] = mapped_column(String(300))
    workflow_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RunSecret(Base):
    """Credentials passed with a run (``integrations``), encrypted; never in history."""

    __tablename__ = "run_secrets"

    instance_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
