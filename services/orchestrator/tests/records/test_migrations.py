"""The Alembic migrations build exactly the tables the models describe, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from orchestrator.records.models import Base
from service_kit.db import sync_url

pytestmark = pytest.mark.integration


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences: list[Any] = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
