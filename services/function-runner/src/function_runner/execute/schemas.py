"""``POST /execute`` request and response (seed 003, extended compatibly)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from function_runner.builtins.base import ErrorCode
from workflow_core.nodes import SLUG_PATTERN

Id = Field(min_length=1, max_length=200)


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function_slug: str = Field(pattern=SLUG_PATTERN, max_length=200)
    execution_id: str = Id
    workflow_id: str = Id
    node_id: str = Id
    node_name: str = Field(default="", max_length=500)
    input: dict[str, Any] = Field(default_factory=dict)
    node_outputs: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, dict[str, Any]] | None = None
    """Credentials passed with the run, per integration: ``{"openai": {"apiKey": "..."}}``."""
    attempt: int = Field(default=1, ge=1, le=10_000)
    timeout_seconds: float | None = Field(default=None, gt=0)
    """Overrides the function's ``timeout_seconds`` for this run."""
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=300)
    """A successful result is recorded under it; a repeat returns the recorded result."""
    tenant_id: str | None = Field(default=None, min_length=1, max_length=100)
    credential_name: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")
    """Which stored credential of the tenant to use for the function's integration."""


class ExecuteResponse(BaseModel):
    """``success: false`` is a function-level failure (HTTP 200); request problems are 4xx."""

    success: bool
    data: Any = None
    error: str | None = None
    duration_ms: float
    error_code: ErrorCode | None = None
    retryable: bool | None = None
    retry_after_seconds: float | None = None
    error_details: Any = None
    job_name: str | None = None
    pod_name: str | None = None
    function_version: str | None = None
    attempts: int = 1
    """Attempts the runner itself made (its retry policy), not the orchestrator's attempt."""
