"""``execution_results``: successful results by idempotency key, so a retried activity
whose first attempt succeeded gets the recorded result instead of a second run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from function_runner.database import Base, JsonType, utcnow


class ExecutionResult(Base):
    __tablename__ = "execution_results"

    idempotency_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    function_slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(200), nullable=False)
    node_id: Mapped[str] = mapped_column(String(200), nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(JsonType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        default=utcnow, server_default=text("CURRENT_TIMESTAMP"), nullable=False, index=True
    )
