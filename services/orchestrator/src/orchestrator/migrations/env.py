"""Alembic environment of the orchestrator: migrations of its own tables only."""

from orchestrator.records.models import Base
from service_kit.db import run_alembic_env

run_alembic_env(Base.metadata)
