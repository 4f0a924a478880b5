"""One pagination style for every list: keyset cursors.

``GET ...?limit=50&cursor=<opaque>`` answers ``{"items": [...], "nextCursor": "..."}``;
``nextCursor`` is ``null`` on the last page. The cursor encodes the sort key of the
last item returned, so pages stay stable while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from service_kit.problems import BadRequest

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(populate_by_name=True)

    items: list[T]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`nextCursor` of the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("the cursor is not valid; use nextCursor from a previous page") from None
    if not isinstance(values, list) or len(values) != size:
        raise BadRequest("the cursor is not valid; use nextCursor from a previous page")
    return values


def keyset(
    stmt: Any,
    columns: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    *,
    descending: bool = False,
) -> Any:
    """Order ``stmt`` by ``columns`` and start after the cursor's position."""
    if params.cursor:
        values = decode_cursor(params.cursor, len(columns))
        values = [_coerce(col, v) for col, v in zip(columns, values, strict=True)]
        stmt = stmt.where(_after(columns, values, descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    return stmt.order_by(*order).limit(params.limit + 1)


def _coerce(column: InstrumentedAttribute[Any], value: Any) -> Any:
    sql_type = column.type
    python_type = getattr(getattr(sql_type, "impl", sql_type), "python_type", None)
    try:
        if python_type is datetime and isinstance(value, str):
            return datetime.fromisoformat(value)
        if python_type is int and (
            not isinstance(value, int) or not 0 <= value < _int_limit(sql_type)
        ):
            raise TypeError
        if python_type is str and (not isinstance(value, str) or "\x00" in value):
            raise TypeError
    except (TypeError, ValueError):
        raise BadRequest("the cursor is not valid; use nextCursor from a previous page") from None
    return value


def _int_limit(sql_type: Any) -> int:
    return 2**63 if isinstance(sql_type, BigInteger) else 2**31


def _after(
    columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], descending: bool
) -> Any:
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def page_of(rows: Sequence[T], params: PageParams, key: Any) -> tuple[list[T], str | None]:
    """Split the ``limit + 1`` rows fetched into a page and the next cursor."""
    items = list(rows[: params.limit])
    if len(rows) > params.limit and items:
        return items, encode_cursor(key(items[-1]))
    return items, None
