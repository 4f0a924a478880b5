"""Database plumbing: one URL form for SQLite (embedded) and PostgreSQL, async engines,
Alembic migrations run from the service's own package.

A service keeps its migrations in ``<package>/migrations`` whose ``env.py`` is just::

    from service_kit.db import run_alembic_env
    from <package>.models import Base
    run_alembic_env(Base.metadata)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service_kit import sqlite_inline
from service_kit.health import ReadinessCheck

SQLITE_BUSY_TIMEOUT_S = 10.0


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` -> aiosqlite, ``postgresql://`` -> psycopg (async)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite or postgresql"
    )


def sync_url(url: str) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite or postgresql"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.close()


def _blocking_pragmas(dbapi_connection: Any, record: Any) -> None:
    """Connections of a thread of their own (migrations) may wait in SQLite's busy handler."""
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=int(SQLITE_BUSY_TIMEOUT_S * 1000))


def _loop_pragmas(dbapi_connection: Any, record: Any) -> None:
    """Connections on the event loop never do: the driver awaits and retries instead."""
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=0)


def _ensure_sqlite_dir(url: URL) -> None:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine. SQLite gets WAL, foreign keys, and statements run on the event
    loop (:mod:`service_kit.sqlite_inline`) rather than on a thread per connection."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_dir(parsed)
        engine = create_async_engine(
            parsed,
            echo=echo,
            async_creator=sqlite_inline.connector(
                parsed.database or ":memory:", busy_timeout=SQLITE_BUSY_TIMEOUT_S
            ),
        )
        event.listen(engine.sync_engine, "connect", _loop_pragmas)
        return engine
    return create_async_engine(
        parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work commits on success and rolls back on error."""
    async with factory() as session, session.begin():
        yield session


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


# --- migrations -------------------------------------------------------------------------


def _alembic_config(script_location: Path, url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).render_as_string(hide_password=False))
    return cfg


def upgrade_database(script_location: Path, url: str, revision: str = "head") -> None:
    """Apply the service's migrations up to ``revision`` (blocking)."""
    from alembic import command

    parsed = sync_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_dir(parsed)
    command.upgrade(_alembic_config(script_location, url), revision)


async def upgrade_database_async(script_location: Path, url: str) -> None:
    await asyncio.to_thread(upgrade_database, script_location, url)


def run_alembic_env(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py`` (online mode only)."""
    from alembic import context
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy.pool import NullPool

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set for the migration run")
    engine: Engine = create_sync_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _blocking_pragmas)
    with engine.connect() as connection:
        _configure_and_run(context, connection, target_metadata)
    engine.dispose()


def _configure_and_run(context: Any, connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
