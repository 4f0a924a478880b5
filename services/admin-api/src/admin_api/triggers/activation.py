"""Activation: the trigger rows of a workflow follow its deploy/stop in the same
transaction. Every activation raises the workflow's trigger ``generation``; deliveries
that carry an older one are ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.db import utcnow
from admin_api.triggers.models import Trigger
from admin_api.triggers.schedule import next_occurrence, same_schedule
from workflow_core import WorkflowDefinition
from workflow_core.nodes import TriggerConfig


def trigger_configs(definition: dict[str, Any]) -> dict[str, TriggerConfig]:
    """The trigger nodes of a (validated) definition, by node id."""
    parsed = WorkflowDefinition.model_validate(definition)
    return {
        node.id: TriggerConfig.model_validate(node.config)
        for node in parsed.nodes
        if node.type == "trigger"
    }


async def rows_for_update(session: AsyncSession, workflow_id: str) -> list[Trigger]:
    """The workflow's trigger rows, locked (PostgreSQL) so a concurrent delivery waits."""
    stmt = (
        select(Trigger)
        .where(Trigger.workflow_id == workflow_id)
        .order_by(Trigger.node_id)
        .with_for_update()
    )
    return list(await session.scalars(stmt))


async def activate(
    session: AsyncSession,
    workflow_id: str,
    version: int,
    definition: dict[str, Any],
    now: datetime | None = None,
) -> list[Trigger]:
    """Make the trigger nodes of ``version`` the active triggers, in the caller's
    transaction. A schedule whose occurrences did not change keeps its next occurrence
    (no gap, no second run of it); rows of nodes that disappeared are deactivated."""
    now = now or utcnow()
    rows = await rows_for_update(session, workflow_id)
    generation = max((r.generation for r in rows), default=0) + 1
    wanted = trigger_configs(definition)
    by_node = {r.node_id: r for r in rows}
    for row in rows:
        row.generation = generation
        if row.node_id not in wanted:
            _deactivate_row(row)
    active: list[Trigger] = []
    for node_id, config in wanted.items():
        target = by_node.get(node_id)
        if target is None:
            target = Trigger(workflow_id=workflow_id, node_id=node_id, created_at=now)
            session.add(target)
        _apply(target, config, version, generation, now)
        active.append(target)
    await session.flush()
    return active


def _apply(
    row: Trigger, config: TriggerConfig, version: int, generation: int, now: datetime
) -> None:
    raw = config.model_dump(by_alias=True, exclude_none=True)
    keeps_schedule = (
        row.active
        and row.kind == "schedule"
        and config.trigger_type == "schedule"
        and row.next_fire_at is not None
        and row.anchor_at is not None
        and same_schedule(row.config or {}, raw)
    )
    row.kind = config.trigger_type
    row.version = version
    row.generation = generation
    row.config = raw
    row.active = True
    row.updated_at = now
    if config.trigger_type != "schedule":
        row.next_fire_at = None
        return
    row.job_scheduled = True
    if not keeps_schedule:
        row.anchor_at = now.replace(microsecond=0)
        row.next_fire_at = next_occurrence(config, now, row.anchor_at)


def _deactivate_row(row: Trigger) -> None:
    row.active = False
    row.next_fire_at = None
    row.updated_at = utcnow()


async def deactivate(session: AsyncSession, workflow_id: str) -> list[Trigger]:
    """Stop every trigger of the workflow (the caller's transaction)."""
    rows = await rows_for_update(session, workflow_id)
    generation = max((r.generation for r in rows), default=0) + 1
    for row in rows:
        row.generation = generation
        _deactivate_row(row)
    await session.flush()
    return rows
