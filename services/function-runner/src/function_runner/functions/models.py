"""The ``functions`` table: every column of seed 003's schema plus ``category`` and
``resources`` (OCI resource requests/limits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from function_runner.database import Base, JsonType, utcnow


class Function(Base):
    __tablename__ = "functions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    slug: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    plugin_id: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    version: Mapped[str] = mapped_column(String(50), default="1.0.0", server_default="1.0.0")
    execution_type: Mapped[str] = mapped_column(
        String(16), default="builtin", server_default="builtin", nullable=False
    )
    category: Mapped[str | None] = mapped_column(String(100), index=True)

    # OCI function config
    image_ref: Mapped[str | None] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(Text)
    working_dir: Mapped[str | None] = mapped_column(Text)
    container_env: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    resources: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    # HTTP function config
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_method: Mapped[str] = mapped_column(
        String(10), default="POST", server_default="POST", nullable=False
    )
    webhook_headers: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    webhook_timeout_seconds: Mapped[int] = mapped_column(
        Integer, default=30, server_default="30", nullable=False
    )

    # Schema definitions
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonType)

    # Execution config
    timeout_seconds: Mapped[int] = mapped_column(
        Integer, default=300, server_default="300", nullable=False
    )
    retry_policy: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    max_concurrency: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", nullable=False
    )

    # Metadata
    integration_type: Mapped[str | None] = mapped_column(String(100))
    is_builtin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false"), nullable=False
    )
    is_enabled: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true"), nullable=False
    )
    is_deprecated: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=text("CURRENT_TIMESTAMP"), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow,
        onupdate=utcnow,
        server_default=text("CURRENT_TIMESTAMP"),
        nullable=False,
    )
