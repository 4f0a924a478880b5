"""Settings of the Workflow Orchestrator (env prefix ``ORCHESTRATOR_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

APP_ID = "workflow-orchestrator"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORCHESTRATOR_", extra="ignore", populate_by_name=True
    )

    port: int = Field(
        default=8080, validation_alias=AliasChoices("APP_PORT", "ORCHESTRATOR_PORT", "port")
    )

    database_url: str | None = None
    """SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``); embedded default:
    ``<data_dir>/orchestrator.db``."""
    migrate_on_startup: bool = True

    function_runner_app_id: str = "function-runner"
    admin_api_app_id: str = "admin-api"
    start_workflow_runtime: bool = True
    """Run the Dapr workflow worker in this process (off for API-only replicas)."""

    secrets_key: str | None = None
    """Base64 of 32 random bytes: encrypts credentials passed with a run."""

    default_action_timeout_seconds: float = Field(default=300, gt=0)
    max_concurrency_per_run: int = Field(default=10, ge=1, le=200)
    max_nodes_per_definition: int = Field(default=1000, ge=1)
    max_payload_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_active_runs_per_project: int = Field(default=200, ge=1)
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    instant_runs: bool = True
    """Evaluate a run whose first turn decides it with no side effect (only triggers,
    conditions, set/transform) in the API and store it finished, without the engine."""
    worker_activity_concurrency: int = Field(default=200, ge=1)
    worker_orchestration_concurrency: int = Field(default=200, ge=1)
    worker_threads: int = Field(default=16, ge=1)

    auth_mode: str = Field(default="tokens", pattern="^(tokens|dev|none)$")
    """``tokens``: JWTs (JWKS) and API keys (introspection) from admin-api; ``dev``: also
    accept ``dev_token`` (embedded mode only); ``none``: no auth (embedded tests only)."""
    dev_token: str | None = None
    app_api_token: str | None = Field(
        default=None, validation_alias=AliasChoices("APP_API_TOKEN", "app_api_token")
    )
    """When set, calls relayed by the sidecar must carry it (Dapr's app API token)."""
    jwt_issuer: str = "admin-api"
    jwt_audience: str = "workflow-builder"
    jwt_algorithm: str = "EdDSA"

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("orchestrator")

    def secret_settings(self) -> dict[str, str | None]:
        return {"secrets_key": self.secrets_key}
