"""The Dapr Jobs API (``/v1.0-alpha1/jobs/<name>`` on the sidecar's HTTP port): one
one-shot job per schedule trigger, named after the workflow and the trigger node."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx

from admin_api.triggers.schedule import iso

_log = logging.getLogger("admin_api.triggers.jobs")


class JobsError(Exception):
    """The sidecar refused or did not answer a jobs call."""


def job_name(workflow_id: str, node_id: str) -> str:
    return f"wfb-trigger-{workflow_id}-{node_id}"


def job_data(
    workflow_id: str, trigger_id: str, generation: int, occurrence: datetime
) -> dict[str, Any]:
    return {
        "workflowId": workflow_id,
        "triggerId": trigger_id,
        "generation": generation,
        "occurrence": iso(occurrence),
    }


class JobsClient:
    def __init__(
        self, http: httpx.AsyncClient, dapr_http_endpoint: str, dapr_api_token: str | None
    ) -> None:
        self.http = http
        self.base = f"{dapr_http_endpoint.rstrip('/')}/v1.0-alpha1/jobs"
        self.headers = {"dapr-api-token": dapr_api_token} if dapr_api_token else {}

    async def _call(self, method: str, name: str, **kw: Any) -> httpx.Response:
        try:
            return await self.http.request(
                method, f"{self.base}/{name}", headers=self.headers, **kw
            )
        except httpx.HTTPError as exc:
            raise JobsError(f"the Dapr sidecar is unreachable: {exc}") from None

    async def schedule(self, name: str, due: datetime, data: dict[str, Any]) -> None:
        body = {"dueTime": iso(due), "data": data, "overwrite": True}
        response = await self._call("POST", name, json=body)
        if response.status_code >= 300:
            raise JobsError(
                f"scheduling job {name} failed: {response.status_code} {response.text[:300]}"
            )

    async def get(self, name: str) -> dict[str, Any] | None:
        response = await self._call("GET", name)
        if response.status_code == 404 or _not_found(response):
            return None
        if response.status_code >= 300:
            raise JobsError(
                f"reading job {name} failed: {response.status_code} {response.text[:300]}"
            )
        try:
            found = response.json()
        except ValueError:
            raise JobsError(f"job {name}: the sidecar's answer is not JSON") from None
        return found if isinstance(found, dict) else None

    async def delete(self, name: str) -> None:
        response = await self._call("DELETE", name)
        if response.status_code >= 300 and response.status_code != 404 and not _not_found(response):
            raise JobsError(
                f"deleting job {name} failed: {response.status_code} {response.text[:300]}"
            )


def _not_found(response: httpx.Response) -> bool:
    """daprd answers a missing job with 500 and an error code naming it."""
    if response.status_code < 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    text = f"{body.get('errorCode', '')} {body.get('message', '')}".lower()
    return "not found" in text or "not_found" in text


def delivered_data(body: Any) -> dict[str, Any] | None:
    """The job's ``data`` from what the sidecar posts to ``/job/<name>``: the data object
    itself, or an envelope carrying it under ``data`` (or a protobuf ``Any``-style
    ``{"@type", "value"}``)."""
    for _ in range(3):
        if not isinstance(body, dict):
            return None
        if "workflowId" in body and "triggerId" in body:
            return body
        if "data" in body:
            body = body["data"]
        elif "value" in body:
            body = body["value"]
        else:
            return None
    return None
