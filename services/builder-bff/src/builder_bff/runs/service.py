"""Runs on the orchestrator, as the caller: start, authorize, list."""

from __future__ import annotations

from typing import Any

from builder_bff.admin.access import (
    Need,
    require_project,
    require_workflow,
    version_definition,
    workflow_project_id,
)
from builder_bff.catalog.service import CatalogCache
from builder_bff.catalog.validation import require_trigger_data, require_valid
from builder_bff.session.deps import Session
from service_kit.problems import Conflict, NotFound

V2 = "/api/v2/workflows"


def orchestrator(session: Session) -> str:
    return session.state.settings.orchestrator_app_id


def run_labels(
    wf: dict[str, Any], project: dict[str, Any], version: int | None, user: dict[str, Any]
) -> dict[str, str]:
    labels = {
        "projectId": workflow_project_id(wf),
        "workflowId": str(wf["id"]),
        "organizationId": str(
            project.get("organizationId") or project.get("organization_id") or ""
        ),
        "companyId": str(project.get("companyId") or project.get("company_id") or ""),
        "version": str(version) if version is not None else "",
        "startedBy": str(user.get("id") or user.get("email") or ""),
    }
    return {k: v for k, v in labels.items() if v}


def chosen_version(wf: dict[str, Any], requested: int | None) -> int | None:
    if requested is not None:
        return requested
    for key in ("activeVersion", "active_version", "latestVersion", "latest_version"):
        value = wf.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


async def start_run(
    session: Session,
    catalog: CatalogCache,
    workflow_id: str,
    trigger_data: Any,
    version: int | None,
) -> dict[str, Any]:
    """Validate the chosen version and its trigger data, then start it with tenant labels.

    The definition's ``id`` is set to the admin workflow id, so every run names the
    workflow (and through it the tenant) it belongs to."""
    wf, project = await require_workflow(session, workflow_id, "run", "run workflows")
    chosen = chosen_version(wf, version)
    if chosen is None:
        raise Conflict("the workflow has no saved version yet; save it before running")
    definition = await version_definition(session, workflow_id, chosen)
    require_valid(definition, await catalog.catalog(session))
    require_trigger_data(definition, trigger_data)
    definition = {**definition, "id": str(wf["id"])}
    labels = run_labels(wf, project, chosen, await session.user())
    started = await session.json(
        orchestrator(session),
        "POST",
        V2,
        json_body={"definition": definition, "triggerData": trigger_data, "labels": labels},
    )
    return {**(started or {}), "version": chosen}


async def authorize_run(
    session: Session, instance_id: str, need: Need, what: str
) -> dict[str, Any]:
    """The run's status, once the caller's role on the run's project allows ``need``.

    A run the caller cannot see is a 404, like an id that does not exist."""
    status = await session.json(orchestrator(session), "GET", f"{V2}/{instance_id}/status")
    if not isinstance(status, dict):
        raise NotFound(f"run {instance_id} not found")
    labels = status.get("labels")
    project_id = labels.get("projectId") if isinstance(labels, dict) else None
    try:
        if project_id:
            await require_project(session, str(project_id), need, what)
        else:
            workflow_id = status.get("workflowId")
            if not workflow_id:
                raise NotFound(f"run {instance_id} not found")
            await require_workflow(session, str(workflow_id), need, what)
    except NotFound:
        raise NotFound(f"run {instance_id} not found") from None
    return status
