"""The one place that talks to the workflow orchestrator: Dapr service invocation of
``workflow-orchestrator``'s v2 API, forwarding the caller's ``Authorization``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from service_kit.auth import dapr_invoke_url
from service_kit.problems import (
    BadGateway,
    Forbidden,
    GatewayTimeout,
    NotFound,
    ProblemError,
    ServiceUnavailable,
    Unprocessable,
)


class StartedRun(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    instance_id: str = Field(alias="instanceId")
    workflow_id: str | None = Field(default=None, alias="workflowId")
    status: str = "started"


class Run(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    instance_id: str = Field(alias="instanceId")
    workflow_id: str | None = Field(default=None, alias="workflowId")
    runtime_status: str | None = Field(default=None, alias="runtimeStatus")
    phase: str | None = None
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    error: Any = None
    labels: dict[str, str] = Field(default_factory=dict)
    duration_ms: float | None = Field(default=None, alias="durationMs")


class RunPage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    items: list[Run] = Field(default_factory=list)
    next_cursor: str | None = Field(default=None, alias="nextCursor")


@dataclass(frozen=True)
class StartOutcome:
    finished: bool
    """The run ended within ``wait`` (``body`` is its status, else the start answer)."""
    body: dict[str, Any]
    replayed: bool = False

    @property
    def instance_id(self) -> str:
        return str(self.body["instanceId"])


class OrchestratorClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        dapr_http_endpoint: str,
        app_id: str = "workflow-orchestrator",
        dapr_api_token: str | None = None,
    ) -> None:
        self.http = http
        self.base = dapr_invoke_url(dapr_http_endpoint, app_id, "api/v2/workflows")
        self.dapr_api_token = dapr_api_token

    def _headers(self, authorization: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if authorization:
            headers["authorization"] = authorization
        if self.dapr_api_token:
            headers["dapr-api-token"] = self.dapr_api_token
        return headers

    async def _call(
        self,
        method: str,
        url: str,
        authorization: str | None,
        *,
        extra_headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        return (await self._exchange(method, url, authorization, extra_headers, **kw)).json()

    async def _exchange(
        self,
        method: str,
        url: str,
        authorization: str | None,
        extra_headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        headers = {**self._headers(authorization), **(extra_headers or {})}
        try:
            response = await self.http.request(method, url, headers=headers, **kw)
        except httpx.TimeoutException:
            raise GatewayTimeout("the workflow orchestrator did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the workflow orchestrator is unreachable: {exc}") from None
        if response.status_code >= 400:
            raise _upstream_error(response)
        try:
            response.json()
        except ValueError:
            raise BadGateway(
                "the workflow orchestrator answered with something that is not JSON"
            ) from None
        return response

    async def start(
        self,
        definition: dict[str, Any],
        trigger_data: dict[str, Any],
        labels: dict[str, str],
        authorization: str | None,
    ) -> StartedRun:
        body = {"definition": definition, "triggerData": trigger_data, "labels": labels}
        data = await self._call("POST", self.base, authorization, json=body)
        try:
            return StartedRun.model_validate(data)
        except ValueError:
            raise BadGateway("the workflow orchestrator's answer has no instanceId") from None

    async def start_run(
        self,
        definition: dict[str, Any],
        trigger_data: dict[str, Any],
        labels: dict[str, str],
        *,
        idempotency_key: str | None = None,
        wait_s: float | None = None,
    ) -> StartOutcome:
        """Start as a platform service (no Authorization: the orchestrator trusts a Dapr call
        from admin-api), with an Idempotency-Key and optionally ``?wait=`` (200 = finished)."""
        body = {"definition": definition, "triggerData": trigger_data, "labels": labels}
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        params = {"wait": f"{min(wait_s, 60):g}"} if wait_s else None
        timeout = (wait_s or 0) + self.http.timeout.read if self.http.timeout.read else None
        response = await self._exchange(
            "POST", self.base, None, headers, json=body, params=params, timeout=timeout
        )
        data = response.json()
        if not isinstance(data, dict) or not isinstance(data.get("instanceId"), str):
            raise BadGateway("the workflow orchestrator's answer has no instanceId")
        return StartOutcome(
            finished=response.status_code == 200,
            body=data,
            replayed=response.headers.get("idempotent-replayed") == "true",
        )

    async def status(self, instance_id: str) -> dict[str, Any]:
        """A run's status, asked as the platform service."""
        url = f"{self.base}/{quote(instance_id, safe='')}/status"
        data = await self._call("GET", url, None)
        if not isinstance(data, dict):
            raise BadGateway("the workflow orchestrator's status answer is malformed")
        return data

    async def list_runs(
        self,
        labels: dict[str, str],
        authorization: str | None,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        params: list[tuple[str, str | int]] = [("label", f"{k}:{v}") for k, v in labels.items()]
        params.append(("limit", limit))
        if status:
            params.append(("status", status))
        if cursor:
            params.append(("cursor", cursor))
        data = await self._call("GET", self.base, authorization, params=params)
        try:
            return RunPage.model_validate(data)
        except ValueError:
            raise BadGateway("the workflow orchestrator's run list is malformed") from None


def _upstream_error(response: httpx.Response) -> ProblemError:
    """The orchestrator's refusal in terms of this API: its 4xx about the request stay
    4xx (a bad cursor or status filter is the caller's), its failures become 502."""
    status = response.status_code
    detail = _problem_detail(response)
    kw: dict[str, Any] = {"upstream_status": status, "upstream": detail}
    if status in (400, 422):
        return Unprocessable(f"the workflow orchestrator refused the request: {detail}", **kw)
    if status in (401, 403):
        return Forbidden("the workflow orchestrator refused this caller", **kw)
    if status == 404:
        return NotFound("the workflow orchestrator does not know this run", **kw)
    if status == 429:
        return ServiceUnavailable("the workflow orchestrator is busy; retry later", **kw)
    return BadGateway(f"the workflow orchestrator answered {status}", **kw)


def _problem_detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body
