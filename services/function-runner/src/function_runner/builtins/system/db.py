"""``system/db-query`` and ``system/db-exec``: parameterized SQL on a named connection.

Connections are named in ``FUNCTION_RUNNER_DB_CONNECTIONS`` (name -> SQLAlchemy URL,
SQLite or PostgreSQL) or in the secret store as ``db-connection-<name>`` (field ``url``).
Values are bound as parameters (``:name`` placeholders), never pasted into the SQL.
``db-query`` runs in a read-only transaction and returns at most ``maxRows`` rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.credentials.secretstore import SecretStore
from service_kit.db import create_engine

_ENGINES: dict[str, AsyncEngine] = {}


async def _url_for(name: str, ctx: ExecutionContext) -> str:
    url = ctx.settings.db_connections.get(name)
    if url:
        return url
    if ctx.settings.use_secret_store:
        store = SecretStore(
            ctx.http,
            ctx.settings.dapr_http_endpoint,
            ctx.settings.secret_store,
            ctx.settings.dapr_api_token,
        )
        found = await store.get(f"db-connection-{name}")
        if found and found.get("url"):
            return found["url"]
    raise FunctionError(f"database connection {name!r} is not configured", code="not_found")


async def engine_for(name: str, ctx: ExecutionContext) -> AsyncEngine:
    url = await _url_for(name, ctx)
    key = f"{name}\x00{url}"
    engine = _ENGINES.get(key)
    if engine is None:
        try:
            engine = create_engine(url, pool_size=5)
        except (ValueError, ArgumentError) as exc:
            raise FunctionError(
                f"database connection {name!r} is invalid: {exc}", code="internal"
            ) from None
        _ENGINES[key] = engine
    return engine


async def dispose_engines() -> None:
    for engine in _ENGINES.values():
        await engine.dispose()
    _ENGINES.clear()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _sql_error(exc: SQLAlchemyError) -> FunctionError:
    original = getattr(exc, "orig", None)
    message = str(original or exc).strip().splitlines()[0]
    transient = isinstance(exc, DBAPIError) and exc.connection_invalidated
    return FunctionError(
        f"SQL failed: {message}",
        code="upstream" if transient else "validation",
        retryable=transient,
    )


async def _read_only(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET TRANSACTION READ ONLY"))
    else:
        await conn.exec_driver_sql("PRAGMA query_only = ON")


async def _writable_again(conn: AsyncConnection) -> None:
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("PRAGMA query_only = OFF")


_COMMON = {
    "connection": {"type": "string", "minLength": 1, "description": "Configured connection name"},
    "sql": {"type": "string", "minLength": 1, "description": "SQL with :name placeholders"},
    "params": {"type": "object", "description": "Values of the :name placeholders"},
}


@builtin(
    slug="system/db-query",
    name="Database Query",
    description="Runs a parameterized SELECT on a named database in a read-only transaction.",
    category="database",
    input_schema={
        "type": "object",
        "properties": {**_COMMON, "maxRows": {"type": "integer", "minimum": 1}},
        "required": ["connection", "sql"],
    },
    output_schema={
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": {"type": "object"}},
            "rowCount": {"type": "integer"},
            "truncated": {"type": "boolean"},
        },
        "required": ["rows", "rowCount"],
    },
    timeout_seconds=60,
)
async def db_query(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    limit = min(int(input.get("maxRows") or ctx.settings.db_max_rows), ctx.settings.db_max_rows)
    engine = await engine_for(input["connection"], ctx)
    try:
        async with engine.connect() as conn:
            try:
                async with conn.begin():
                    await _read_only(conn)
                    result = await conn.execute(text(input["sql"]), input.get("params") or {})
                    if not result.returns_rows:
                        raise FunctionError(
                            "db-query runs queries that return rows; use system/db-exec",
                            code="validation",
                        )
                    fetched = result.mappings().fetchmany(limit + 1)
            finally:
                await _writable_again(conn)
    except (StatementError, DBAPIError, SQLAlchemyError) as exc:
        raise _sql_error(exc) from None
    rows = [{k: _jsonable(v) for k, v in row.items()} for row in fetched[:limit]]
    return {"rows": rows, "rowCount": len(rows), "truncated": len(fetched) > limit}


@builtin(
    slug="system/db-exec",
    name="Database Execute",
    description="Runs a parameterized INSERT/UPDATE/DELETE (or DDL) on a named database in a "
    "transaction; returns the affected row count.",
    category="database",
    input_schema={"type": "object", "properties": _COMMON, "required": ["connection", "sql"]},
    output_schema={
        "type": "object",
        "properties": {"rowsAffected": {"type": "integer"}},
        "required": ["rowsAffected"],
    },
    timeout_seconds=60,
)
async def db_exec(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    engine = await engine_for(input["connection"], ctx)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(input["sql"]), input.get("params") or {})
            affected = result.rowcount
    except (StatementError, DBAPIError, SQLAlchemyError) as exc:
        raise _sql_error(exc) from None
    return {"rowsAffected": max(affected, 0)}
