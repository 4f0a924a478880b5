"""Helpers for the platform's tests: throwaway PostgreSQL databases, free ports.

Tests use a real PostgreSQL server (``WFB_TEST_POSTGRES_URL``, default the local
trust-auth server); each caller gets a fresh database that is dropped afterwards, so
parallel test runs never see each other's rows.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("WFB_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


@contextmanager
def temporary_postgres_database(prefix: str = "wfbtest") -> Iterator[str]:
    """Create an empty database, yield its URL (``postgresql://...``), then drop it."""
    admin = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name, drivername="postgresql").render_as_string(
            hide_password=False
        )
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one this process was already given: the kernel may
    hand back a port just released, and two services of one run file must not share."""
    while True:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
