"""Row ids of inbox, tasks and timers are never reused.

The engine keeps in-flight activities keyed by their task row id. With plain rowids,
SQLite hands a deleted row's id to the next insert, so one activity's completion could
delete the task row of another (and forget it): that workflow then waited forever.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wfb_sidecar.workflow.store import SCHEMA, migrate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("table", ["inbox", "tasks", "timers"])
def test_deleted_ids_are_not_handed_out_again(tmp_path: Path, table: str) -> None:
    conn = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    migrate(conn)
    columns = {
        "inbox": "(app_id, instance_id, execution_id, event) VALUES ('a', 'i', 'e', x'00')",
        "tasks": "(app_id, instance_app_id, instance_id, execution_id, task_id, request) VALUES ('a', 'a', 'i', 'e', 1, x'00')",
        "timers": "(app_id, instance_id, execution_id, fire_at, event) VALUES ('a', 'i', 'e', 1, x'00')",
    }[table]
    first = conn.execute(f"INSERT INTO {table} {columns}").lastrowid
    conn.execute(f"DELETE FROM {table} WHERE id = ?", (first,))
    second = conn.execute(f"INSERT INTO {table} {columns}").lastrowid
    assert second != first


def test_version_one_databases_are_migrated_with_their_rows(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.executescript(SCHEMA[0])
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO tasks (id, app_id, instance_app_id, instance_id, execution_id, task_id, request) "
        "VALUES (7, 'a', 'a', 'i', 'e', 3, x'01')"
    )
    assert migrate(conn) == len(SCHEMA)
    assert conn.execute("SELECT id, task_id FROM tasks").fetchall() == [(7, 3)]
    conn.execute("DELETE FROM tasks")
    new = conn.execute(
        "INSERT INTO tasks (app_id, instance_app_id, instance_id, execution_id, task_id, request) "
        "VALUES ('a', 'a', 'i', 'e', 4, x'01')"
    ).lastrowid
    assert new == 8
