"""Alembic environment of the Function Runner: migrations of its own tables only."""

from function_runner.database import Base, import_models
from service_kit.db import run_alembic_env

import_models()
run_alembic_env(Base.metadata)
