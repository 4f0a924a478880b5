from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service_kit.db import create_engine, session_factory, upgrade_database
from service_kit.testing import temporary_postgres_database

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "orchestrator" / "migrations"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty orchestrator database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'orchestrator.db'}"
        upgrade_database(MIGRATIONS, url)
        yield url
    else:
        with temporary_postgres_database() as url:
            upgrade_database(MIGRATIONS, url)
            yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
