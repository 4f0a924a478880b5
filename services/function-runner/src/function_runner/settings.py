"""Settings of the Function Runner (env prefix ``FUNCTION_RUNNER_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

APP_ID = "function-runner"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="FUNCTION_RUNNER_", extra="ignore", populate_by_name=True
    )

    port: int = Field(
        default=8081, validation_alias=AliasChoices("APP_PORT", "FUNCTION_RUNNER_PORT", "port")
    )

    database_url: str | None = None
    """SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``); embedded default:
    ``<data_dir>/function-runner.db``."""
    migrate_on_startup: bool = True

    integration_base_urls: dict[str, str] = Field(default_factory=dict)
    """Per-integration API base URL overrides, plugin id -> URL
    (``FUNCTION_RUNNER_INTEGRATION_BASE_URLS='{"openai": "http://127.0.0.1:9999/v1"}'``);
    tests point integrations at loopback fakes with it."""

    # --- OCI executor (function_runner.executors.oci) ---
    k8s_namespace: str = "workflow-builder"
    """Namespace the OCI functions' Jobs and per-run Secrets are created in."""
    kubeconfig: str | None = None
    """Path of a kubeconfig; unset: in-cluster config, else the default kubeconfig."""
    oci_job_ttl_seconds: int = 300
    """``ttlSecondsAfterFinished`` of OCI Jobs."""

    def integration_base_url(self, plugin_id: str, default: str) -> str:
        """The API base URL an integration calls: the override if set, else ``default``.
        Trailing slashes are removed so callers can append ``/path``."""
        return self.integration_base_urls.get(plugin_id, default).rstrip("/")

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("function-runner")
