"""Alembic environment of the Admin API: migrations of its own tables only."""

from admin_api.models import Base
from service_kit.db import run_alembic_env

run_alembic_env(Base.metadata)
