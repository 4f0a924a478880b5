"""Jobs in SQLite (``jobs.db`` in the data directory): one row per (app id, job name),
rewritten whenever the job's progress changes, so a restart resumes where it stopped."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from wfb_sidecar.jobs.model import FailurePolicy, Job, reparse
from wfb_sidecar.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    schedule TEXT,
    repeats INTEGER,
    due_time TEXT,
    ttl TEXT,
    data_type TEXT NOT NULL,
    data BLOB NOT NULL,
    failure_policy TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    tick_at REAL,
    attempt_at REAL,
    count INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
) WITHOUT ROWID;
"""
COLUMNS = (
    "app_id, name, schedule, repeats, due_time, ttl, data_type, data, failure_policy, "
    "created_at, expires_at, tick_at, attempt_at, count, attempts"
)


def _row(job: Job) -> tuple[object, ...]:
    policy = {
        "kind": job.policy.kind,
        "interval_s": job.policy.interval_s,
        "max_retries": job.policy.max_retries,
    }
    return (
        job.app_id,
        job.name,
        job.schedule,
        job.repeats,
        job.due_time,
        job.ttl,
        job.data_type,
        job.data,
        json.dumps(policy),
        job.created_at,
        job.expires_at,
        job.tick_at,
        job.attempt_at,
        job.count,
        job.attempts,
    )


def _job(row: tuple[Any, ...]) -> Job:
    policy = json.loads(str(row[8]))
    job = Job(
        app_id=str(row[0]),
        name=str(row[1]),
        schedule=row[2],
        repeats=row[3],
        due_time=row[4],
        ttl=row[5],
        data_type=str(row[6]),
        data=bytes(row[7]),
        policy=FailurePolicy(policy["kind"], policy["interval_s"], policy["max_retries"]),
        created_at=float(row[9]),
        expires_at=row[10],
        tick_at=row[11],
        attempt_at=row[12],
        count=int(row[13]),
        attempts=int(row[14]),
    )
    return reparse(job)


class JobStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, SCHEMA)

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def load(self) -> list[Job]:
        def load(conn: sqlite3.Connection) -> list[Job]:
            return [_job(row) for row in conn.execute(f"SELECT {COLUMNS} FROM jobs")]  # noqa: S608

        return await self.db.run(load)

    async def put(self, job: Job, *, overwrite: bool = True) -> bool:
        """Store a job; without ``overwrite`` an existing name is kept (returns False)."""

        def put(conn: sqlite3.Connection) -> bool:
            verb = "INSERT OR REPLACE" if overwrite else "INSERT OR IGNORE"
            marks = ", ".join("?" * 15)
            cursor = conn.execute(f"{verb} INTO jobs ({COLUMNS}) VALUES ({marks})", _row(job))
            return cursor.rowcount == 1

        return await self.db.run(put)

    async def delete(self, app_id: str, names: list[str]) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM jobs WHERE app_id = ? AND name = ?", [(app_id, n) for n in names]
            )

        await self.db.run(delete)
