"""The declarative base of the Function Runner's tables and the column types they share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeEngine

JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
"""``JSONB`` on PostgreSQL (as in seed 003's schema), ``JSON`` (text) on SQLite."""


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


def import_models() -> None:
    """Import every module that declares tables, so ``Base.metadata`` is complete."""
    from function_runner.credentials import models as _credentials  # noqa: F401
    from function_runner.execute import models as _execute  # noqa: F401
    from function_runner.functions import models as _functions  # noqa: F401
