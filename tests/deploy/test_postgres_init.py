"""deploy/compose/postgres/init-databases.sh (also the dev overlay's PostgreSQL init)
run against a real PostgreSQL server: one owned database per name, no cross access."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service_kit.testing import postgres_admin_url


@pytest.mark.integration
def test_init_script_creates_one_owned_database_per_name(repo: Path, tmp_path: Path) -> None:
    """Runs the real init script against the test PostgreSQL server, with unique names."""
    admin = make_url(postgres_admin_url())
    suffix = uuid.uuid4().hex[:8]
    names = [f"wfbinit_a_{suffix}", f"wfbinit_b_{suffix}"]
    env = {
        **os.environ,
        "POSTGRES_USER": admin.username or "postgres",
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGPASSWORD": admin.password or "",
        "WFB_DATABASES": " ".join(names),
        **{f"{n.upper()}_DB_PASSWORD": f"pw-{n}-it's" for n in names},
    }
    engine = create_engine(admin.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        result = subprocess.run(
            ["sh", str(repo / "deploy/compose/postgres/init-databases.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        for name in names:
            own = make_url(postgres_admin_url()).set(
                drivername="postgresql+psycopg",
                username=name,
                password=f"pw-{name}-it's",
                database=name,
            )
            probe = create_engine(own)
            with probe.connect() as conn:
                assert conn.execute(text("select current_user, current_database()")).one() == (
                    name,
                    name,
                )
                conn.execute(text("create table t (x int)"))
                conn.commit()
            probe.dispose()
        # a role cannot open another service's database
        intruder = make_url(postgres_admin_url()).set(
            drivername="postgresql+psycopg",
            username=names[0],
            password=f"pw-{names[0]}-it's",
            database=names[1],
        )
        probe = create_engine(intruder)
        with pytest.raises(Exception, match="permission denied"), probe.connect():
            pass
        probe.dispose()
        missing = {**env, "WFB_DATABASES": f"wfbinit_c_{suffix}"}
        result = subprocess.run(
            ["sh", str(repo / "deploy/compose/postgres/init-databases.sh")],
            env=missing,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0 and "DB_PASSWORD is not set" in result.stderr
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        engine.dispose()
