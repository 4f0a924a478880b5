from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from service_kit.db import async_url, create_engine, database_check, sync_url, upgrade_database
from service_kit.testing import temporary_postgres_database


class TestUrls:
    pytestmark = pytest.mark.unit

    def test_drivers(self) -> None:
        assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
        assert async_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
        assert sync_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
        with pytest.raises(ValueError, match="unsupported"):
            async_url("mysql://u@h/db")


def write_migration(root: Path) -> Path:
    migrations = root / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(
        "from sqlalchemy import MetaData\nfrom service_kit.db import run_alembic_env\nrun_alembic_env(MetaData())\n"
    )
    (migrations / "script.py.mako").write_text("")
    (migrations / "versions" / "0001_things.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n"
        "revision = '0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n"
        "def upgrade():\n    op.create_table('things', sa.Column('id', sa.Integer, primary_key=True))\n"
        "def downgrade():\n    op.drop_table('things')\n"
    )
    return migrations


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_migrations_and_engine_on_both_backends(tmp_path: Path, backend: str) -> None:
    migrations = write_migration(tmp_path)

    async def exercise(url: str) -> None:
        upgrade_database(migrations, url)
        upgrade_database(migrations, url)  # idempotent
        engine = create_engine(url)
        try:
            await database_check(engine)()
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO things (id) VALUES (1)"))
                count = (await conn.execute(text("SELECT count(*) FROM things"))).scalar_one()
            assert count == 1
        finally:
            await engine.dispose()

    if backend == "sqlite":
        await exercise(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite'}")
    else:
        with temporary_postgres_database() as url:
            await exercise(url)
