"""Runs on the orchestrator, as the caller: start, authorize, list."""

from __future__ import annotations

from typing import Any

from builder_bff.admin.access import authorize, version_definition, workflow
from builder_bff.catalog.service import CatalogCache
from builder_bff.catalog.validation import require_trigger_data, require_valid
from builder_bff.session.deps import Session
from service_kit.problems import Conflict, NotFound

V2 = "/api/v2/workflows"
READ = "executions.read"
STEER = "workflow.run"
PURGE = "workflow.delete"


def orchestrator(session: Session) -> str:
    return session.state.settings.orchestrator_app_id


def chosen_version(wf: dict[str, Any], requested: int | None) -> int | None:
    """The requested version, else the active one, else the latest saved one."""
    if requested is not None:
        return requested
    for key in ("activeVersion", "latestVersion"):
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

    The definition's ``id`` becomes the admin workflow id, so every run names the workflow
    (and through its labels the tenant) it belongs to."""
    grant = await authorize(session, "workflow", workflow_id, STEER, "run this workflow")
    wf = await workflow(session, workflow_id)
    chosen = chosen_version(wf, version)
    if chosen is None:
        raise Conflict("the workflow has no saved version yet; save it before running")
    definition = await version_definition(session, workflow_id, chosen)
    require_valid(definition, await catalog.catalog(session))
    require_trigger_data(definition, trigger_data)
    user = await session.user()
    labels = {
        **{
            k: v
            for k, v in grant.tenant.items()
            if k in ("companyId", "organizationId", "projectId")
        },
        "workflowId": workflow_id,
        "version": str(chosen),
        "startedBy": str(user.get("id") or user.get("email") or ""),
    }
    started = await session.as_user_json(
        orchestrator(session),
        "POST",
        V2,
        json_body={
            "definition": {**definition, "id": workflow_id},
            "triggerData": trigger_data,
            "labels": {k: v for k, v in labels.items() if v},
        },
    )
    return {**(started if isinstance(started, dict) else {}), "version": chosen}


async def authorize_run(
    session: Session, instance_id: str, action: str, what: str
) -> dict[str, Any]:
    """The run's status, once the caller may perform ``action`` in the run's project.

    A run the caller cannot see is a 404, exactly like an id that does not exist."""
    status = await session.as_user_json(orchestrator(session), "GET", f"{V2}/{instance_id}/status")
    if not isinstance(status, dict):
        raise NotFound(f"run {instance_id} not found")
    labels = status.get("labels")
    project_id = labels.get("projectId") if isinstance(labels, dict) else None
    workflow_id = status.get("workflowId")
    try:
        if project_id:
            await authorize(session, "project", str(project_id), action, what)
        elif workflow_id:
            await authorize(session, "workflow", str(workflow_id), action, what)
        else:
            raise NotFound(f"run {instance_id} not found")
    except NotFound:
        raise NotFound(f"run {instance_id} not found") from None
    return status
