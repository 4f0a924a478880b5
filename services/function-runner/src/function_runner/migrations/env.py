"""Alembic environment of the Function Runner: migrations of its own tables only."""

from sqlalchemy import MetaData

from service_kit.db import run_alembic_env

run_alembic_env(MetaData())
