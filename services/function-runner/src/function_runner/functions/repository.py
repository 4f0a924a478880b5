"""Every query on the ``functions`` table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from function_runner.functions.models import Function


@dataclass(frozen=True)
class FunctionFilter:
    plugin: str | None = None
    category: str | None = None
    execution_type: str | None = None
    search: str | None = None
    enabled: bool | None = None


class FunctionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_slug(self, slug: str) -> Function | None:
        result = await self.session.execute(select(Function).where(Function.slug == slug))
        return result.scalar_one_or_none()

    async def by_ref(self, ref: str) -> Function | None:
        """By slug (``plugin/name``) or by id."""
        column = Function.slug if "/" in ref else Function.id
        result = await self.session.execute(select(Function).where(column == ref))
        return result.scalar_one_or_none()

    async def page(
        self, where: FunctionFilter, after_slug: str | None, limit: int
    ) -> list[Function]:
        query = self._filtered(select(Function), where).order_by(Function.slug).limit(limit)
        if after_slug is not None:
            query = query.where(Function.slug > after_slug)
        return list((await self.session.execute(query)).scalars())

    @staticmethod
    def _filtered(query: Select[Any], where: FunctionFilter) -> Select[Any]:
        if where.plugin:
            query = query.where(Function.plugin_id == where.plugin)
        if where.category:
            query = query.where(Function.category == where.category)
        if where.execution_type:
            query = query.where(Function.execution_type == where.execution_type)
        if where.enabled is not None:
            query = query.where(Function.is_enabled == where.enabled)
        if where.search:
            escaped = where.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            query = query.where(
                or_(
                    Function.slug.ilike(pattern, escape="\\"),
                    Function.name.ilike(pattern, escape="\\"),
                    Function.description.ilike(pattern, escape="\\"),
                )
            )
        return query

    def add(self, function: Function) -> None:
        self.session.add(function)

    async def delete(self, function: Function) -> None:
        await self.session.execute(delete(Function).where(Function.id == function.id))

    async def upsert_builtins(
        self, rows: Sequence[dict[str, Any]], code_owned: Sequence[str]
    ) -> None:
        """Insert new builtins; on an existing slug overwrite only ``code_owned`` columns
        (user-tuned ones such as ``is_enabled`` are kept)."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(Function).values(list(rows))
        statement = statement.on_conflict_do_update(
            index_elements=[Function.slug],
            set_={name: statement.excluded[name] for name in code_owned},
        )
        await self.session.execute(statement)

    async def builtin_slugs(self) -> list[str]:
        result = await self.session.execute(
            select(Function.slug).where(Function.is_builtin.is_(True))
        )
        return list(result.scalars())

    async def counts(self) -> list[tuple[str, str, bool, bool, bool, int]]:
        """(execution_type, plugin_id, is_enabled, is_deprecated, is_builtin, count) rows."""
        query = select(
            Function.execution_type,
            Function.plugin_id,
            Function.is_enabled,
            Function.is_deprecated,
            Function.is_builtin,
            func.count(),
        ).group_by(
            Function.execution_type,
            Function.plugin_id,
            Function.is_enabled,
            Function.is_deprecated,
            Function.is_builtin,
        )
        return [tuple(row) for row in (await self.session.execute(query)).all()]  # type: ignore[misc]
