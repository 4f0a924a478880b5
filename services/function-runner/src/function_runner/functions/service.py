"""Registry logic: create/update/delete with validation, builtin seeding, and the cached
immutable snapshots (:class:`FunctionRecord`) that ``/execute`` runs."""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from function_runner.builtins.base import BuiltinFunction, FunctionRecord
from function_runner.functions.models import Function
from function_runner.functions.repository import FunctionFilter, FunctionRepository
from function_runner.functions.schemas import (
    REDACTED,
    FunctionCounts,
    FunctionCreate,
    FunctionUpdate,
    command_to_column,
    parse_command,
)
from function_runner.net.ssrf import SsrfPolicy, SsrfRefused
from service_kit.problems import BadRequest, Conflict, NotFound, Unprocessable

BUILTIN_NAMESPACE = uuid.UUID("6f1c2b0e-5d7a-4c1e-9a53-1f0e4d8b7c21")
CODE_OWNED = (
    "name",
    "description",
    "plugin_id",
    "version",
    "execution_type",
    "category",
    "input_schema",
    "output_schema",
    "integration_type",
    "is_builtin",
    "updated_at",
)
"""Columns of a builtin that its code defines; seeding overwrites them. The others
(``is_enabled``, ``is_deprecated``, ``timeout_seconds``, ``max_concurrency``,
``retry_policy``) are the operator's and survive restarts."""
BUILTIN_TUNABLE = frozenset(
    {"is_enabled", "is_deprecated", "timeout_seconds", "max_concurrency", "retry_policy"}
)
TYPE_FIELDS = {
    "oci": ("image_ref", "command", "working_dir", "container_env", "resources"),
    "http": ("webhook_url", "webhook_headers"),
}


def builtin_id(slug: str) -> str:
    """Builtins get the same id in every database."""
    return str(uuid.uuid5(BUILTIN_NAMESPACE, slug))


def encode_cursor(slug: str) -> str:
    return base64.urlsafe_b64encode(slug.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(f"cursor {cursor!r} is not a cursor this API returned") from None


def to_record(row: Function) -> FunctionRecord:
    return FunctionRecord(
        id=row.id,
        slug=row.slug,
        name=row.name,
        plugin_id=row.plugin_id,
        version=row.version,
        execution_type=row.execution_type,  # type: ignore[arg-type]
        image_ref=row.image_ref,
        command=parse_command(row.command),
        working_dir=row.working_dir,
        container_env=row.container_env,
        resources=row.resources,
        webhook_url=row.webhook_url,
        webhook_method=row.webhook_method,
        webhook_headers=row.webhook_headers,
        webhook_timeout_seconds=row.webhook_timeout_seconds,
        input_schema=row.input_schema,
        output_schema=row.output_schema,
        timeout_seconds=row.timeout_seconds,
        retry_policy=row.retry_policy,
        max_concurrency=row.max_concurrency,
        integration_type=row.integration_type,
        is_builtin=row.is_builtin,
        is_enabled=row.is_enabled,
        is_deprecated=row.is_deprecated,
    )


def builtin_row(spec: BuiltinFunction) -> dict[str, Any]:
    from function_runner.database import utcnow

    return {
        "id": builtin_id(spec.slug),
        "slug": spec.slug,
        "name": spec.name,
        "description": spec.description,
        "plugin_id": spec.plugin_id,
        "version": spec.version,
        "execution_type": "builtin",
        "category": spec.category,
        "input_schema": spec.input_schema,
        "output_schema": spec.output_schema,
        "integration_type": spec.integration_type,
        "timeout_seconds": spec.timeout_seconds,
        "is_builtin": True,
        "is_enabled": True,
        "is_deprecated": False,
        "max_concurrency": 0,
        "webhook_method": "POST",
        "webhook_timeout_seconds": 30,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


class FunctionRegistry:
    """The registry as the rest of the service sees it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        policy: SsrfPolicy,
        cache_seconds: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.policy = policy
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, FunctionRecord | None]] = {}

    # --- run-time lookups -------------------------------------------------------------

    async def record(self, slug: str) -> FunctionRecord | None:
        """The function ``slug`` as an immutable snapshot (briefly cached)."""
        now = time.monotonic()
        cached = self._cache.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.sessions() as session:
            row = await FunctionRepository(session).by_slug(slug)
            snapshot = to_record(row) if row is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[slug] = (now + self.cache_seconds, snapshot)
        return snapshot

    def invalidate(self, slug: str) -> None:
        self._cache.pop(slug, None)

    # --- seeding ------------------------------------------------------------------------

    async def seed_builtins(self, builtins: dict[str, BuiltinFunction]) -> None:
        rows = [builtin_row(spec) for spec in sorted(builtins.values(), key=lambda b: b.slug)]
        async with self.sessions() as session, session.begin():
            await FunctionRepository(session).upsert_builtins(rows, CODE_OWNED)
        self._cache.clear()

    # --- CRUD ---------------------------------------------------------------------------

    async def get(self, session: AsyncSession, ref: str) -> Function:
        row = await FunctionRepository(session).by_ref(ref)
        if row is None:
            raise NotFound(f"function {ref!r} does not exist")
        return row

    async def page(
        self, session: AsyncSession, where: FunctionFilter, cursor: str | None, limit: int
    ) -> tuple[list[Function], str | None]:
        after = decode_cursor(cursor) if cursor else None
        rows = await FunctionRepository(session).page(where, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].slug) if more and rows else None

    async def create(self, session: AsyncSession, body: FunctionCreate) -> Function:
        values = body.model_dump(exclude_none=True, exclude={"retry_policy", "resources"})
        values["plugin_id"] = body.slug.split("/", 1)[0]
        values.setdefault("category", values["plugin_id"])
        values["command"] = command_to_column(body.command)
        values["retry_policy"] = _policy_dump(body)
        values["resources"] = (
            body.resources.model_dump(exclude_none=True) if body.resources else None
        )
        self._check_type_fields(values)
        repo = FunctionRepository(session)
        if await repo.by_slug(body.slug) is not None:
            raise Conflict(f"function {body.slug!r} already exists; PATCH it to change it")
        row = Function(id=uuid.uuid4().hex, is_builtin=False, **values)
        repo.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise Conflict(f"function {body.slug!r} already exists") from None
        self.invalidate(row.slug)
        return row

    async def update(self, session: AsyncSession, ref: str, body: FunctionUpdate) -> Function:
        row = await self.get(session, ref)
        changes = body.model_dump(exclude_unset=True, exclude={"retry_policy", "resources"})
        if "retry_policy" in body.model_fields_set:
            changes["retry_policy"] = _policy_dump(body)
        if "resources" in body.model_fields_set:
            changes["resources"] = (
                body.resources.model_dump(exclude_none=True) if body.resources else None
            )
        if "command" in changes:
            changes["command"] = command_to_column(body.command)
        if row.is_builtin:
            locked = sorted(set(changes) - BUILTIN_TUNABLE)
            if locked:
                raise Conflict(
                    f"{row.slug!r} is a builtin: its {', '.join(locked)} come from code; "
                    f"only {', '.join(sorted(BUILTIN_TUNABLE))} can be changed"
                )
        if "webhook_headers" in changes and changes["webhook_headers"] is not None:
            previous = row.webhook_headers or {}
            changes["webhook_headers"] = {
                k: previous.get(k, "") if v == REDACTED else v
                for k, v in changes["webhook_headers"].items()
            }
        nullable = {"description", "category", "retry_policy", "resources", "input_schema"}
        nullable |= {"output_schema", "integration_type", "command", "working_dir"}
        nullable |= {"container_env", "webhook_headers", "image_ref", "webhook_url"}
        for name, value in changes.items():
            if value is None and name not in nullable:
                raise Unprocessable(
                    f"{name} cannot be null", [{"pointer": f"/{name}", "message": "null"}]
                )
        merged = {column: getattr(row, column) for column in _columns()} | changes
        if not row.is_builtin:
            self._check_type_fields(merged)
        for name, value in changes.items():
            setattr(row, name, value)
        await session.flush()
        self.invalidate(row.slug)
        return row

    async def delete(self, session: AsyncSession, ref: str) -> None:
        row = await self.get(session, ref)
        if row.is_builtin:
            raise Conflict(
                f"{row.slug!r} is a builtin and comes back at every start; "
                "disable it instead (PATCH is_enabled=false)"
            )
        await FunctionRepository(session).delete(row)
        self.invalidate(row.slug)

    async def counts(self, session: AsyncSession) -> FunctionCounts:
        by_type: Counter[str] = Counter()
        by_plugin: Counter[str] = Counter()
        total = enabled = deprecated = builtin = 0
        for exec_type, plugin, is_enabled, is_deprecated, is_builtin, n in await FunctionRepository(
            session
        ).counts():
            total += n
            by_type[exec_type] += n
            by_plugin[plugin] += n
            enabled += n if is_enabled else 0
            deprecated += n if is_deprecated else 0
            builtin += n if is_builtin else 0
        return FunctionCounts(
            total=total,
            enabled=enabled,
            disabled=total - enabled,
            deprecated=deprecated,
            builtin=builtin,
            by_execution_type=dict(by_type),
            by_plugin=dict(sorted(by_plugin.items())),
        )

    def _check_type_fields(self, values: dict[str, Any]) -> None:
        kind = values["execution_type"]
        errors: list[dict[str, str]] = []
        if kind == "oci" and not values.get("image_ref"):
            errors.append({"pointer": "/image_ref", "message": "an oci function needs image_ref"})
        if kind == "http":
            url = values.get("webhook_url")
            if not url:
                errors.append(
                    {"pointer": "/webhook_url", "message": "an http function needs webhook_url"}
                )
            else:
                try:
                    self.policy.parse(url)
                except SsrfRefused as exc:
                    errors.append({"pointer": "/webhook_url", "message": str(exc)})
        for other, fields in TYPE_FIELDS.items():
            if other == kind:
                continue
            for name in fields:
                if values.get(name):
                    errors.append(
                        {
                            "pointer": f"/{name}",
                            "message": f"{name} is for {other} functions, not {kind}",
                        }
                    )
        if errors:
            raise Unprocessable(f"function is invalid: {errors[0]['message']}", errors)


def _policy_dump(body: FunctionCreate | FunctionUpdate) -> dict[str, Any] | None:
    policy = body.retry_policy
    return policy.model_dump(by_alias=True) if policy is not None else None


def _columns() -> list[str]:
    return [c.key for c in Function.__table__.columns]
