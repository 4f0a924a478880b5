"""Settings of the Function Runner (env prefix ``FUNCTION_RUNNER_``)."""

from __future__ import annotations

from typing import Literal

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

    app_api_token: str | None = Field(
        default=None, validation_alias=AliasChoices("APP_API_TOKEN", "app_api_token")
    )
    """When set (Dapr's ``APP_API_TOKEN``), every request but health checks must carry it in
    the ``dapr-api-token`` header: only the sidecar may call the service."""
    redis_url: str | None = None
    """Redis for ``max_concurrency`` across replicas; unset: per-process limits."""
    redis_key_prefix: str = "function-runner"

    # --- execution limits ---
    max_request_bytes: int = 5 * 1024 * 1024
    """``/execute`` bodies larger than this are refused with 413."""
    max_output_bytes: int = 5 * 1024 * 1024
    """A result whose JSON is larger than this is a failure (code ``validation``)."""
    max_timeout_seconds: int = 24 * 3600
    function_cache_seconds: float = 1.0
    """How long a replica reuses a registry row before reading it again (writes through
    this replica's API invalidate it at once)."""
    idempotency_retention_hours: int = 72

    # --- outbound HTTP (SSRF guard) ---
    ssrf_allowed_ports: list[int] = Field(default_factory=lambda: [80, 443, 8080, 8443])
    ssrf_allow_hosts: list[str] = Field(default_factory=list)
    """Trusted internal host names (exact, or ``*.suffix``) that skip the address checks."""
    ssrf_allow_cidrs: list[str] = Field(default_factory=list)
    """Trusted internal networks (``10.1.0.0/16``, ``127.0.0.1/32``)."""
    http_max_redirects: int = 5
    http_max_response_bytes: int = 10 * 1024 * 1024
    http_default_timeout_seconds: float = 30.0

    # --- credentials ---
    secret_store: str = Field(
        default="secretstore",
        validation_alias=AliasChoices(
            "FUNCTION_RUNNER_SECRET_STORE", "DAPR_SECRETS_STORE", "secret_store"
        ),
    )
    """Dapr secret store component consulted first for integration credentials."""
    secret_key_template: str = "integration-{integration}"  # noqa: S105 - a key name
    """Secret (in the store) holding an integration's fields, e.g. ``integration-openai`` ->
    ``{"apiKey": "..."}``."""
    use_secret_store: bool = True
    credential_keys: dict[str, str] = Field(default_factory=dict)
    """Credential encryption keys, key id -> base64 of 32 bytes. Unset: read from the secret
    store's ``credential_keys_secret``; in embedded mode a key is generated under
    ``data_dir`` when neither has one."""
    credential_keys_secret: str = "function-runner-credential-keys"  # noqa: S105 - a key name
    credential_active_key_id: str | None = None
    """Key id new credentials are encrypted with; unset: the greatest key id."""
    default_tenant_id: str = "default"

    # --- builtins ---
    db_connections: dict[str, str] = Field(default_factory=dict)
    """Named databases for ``system/db-query``/``db-exec``, name -> SQLAlchemy URL; a name
    not listed is looked up in the secret store as ``db-connection-<name>`` (field ``url``)."""
    db_max_rows: int = 10_000
    ai_base_url: str = "https://api.openai.com/v1"
    """OpenAI-compatible API of ``system/ai-*`` (a credential's ``baseUrl`` overrides it)."""
    ai_default_model: str = "gpt-4o-mini"

    # --- OCI executor (function_runner.executors.oci) ---
    k8s_namespace: str = Field(
        default="workflow-builder-jobs",
        validation_alias=AliasChoices(
            "FUNCTION_RUNNER_K8S_NAMESPACE", "K8S_NAMESPACE", "k8s_namespace"
        ),
    )
    """Namespace the OCI functions' Jobs and per-run Secrets are created in."""
    kubeconfig: str | None = None
    """Path of a kubeconfig; unset: in-cluster config, else the default kubeconfig."""
    oci_job_ttl_seconds: int = 300
    """``ttlSecondsAfterFinished`` of OCI Jobs."""
    k8s_context: str | None = None
    """kubeconfig context to use (default: the file's current context)."""
    oci_run_as_user: int = Field(default=65532, ge=1)
    """UID (and GID) the function containers run as; never 0."""
    oci_default_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        }
    )
    """Requests/limits for a function that declares none (per resource, merged)."""
    oci_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    oci_image_pull_secrets: list[str] = Field(default_factory=list)
    """Names of docker-registry Secrets in the jobs namespace used to pull function images."""
    oci_service_account: str | None = None
    """ServiceAccount of function pods (its token is never mounted)."""
    oci_tmp_size_limit: str = "64Mi"
    """Size limit of the writable ``/tmp`` emptyDir (the root filesystem is read-only)."""
    oci_unschedulable_timeout_seconds: float = Field(default=120.0, gt=0)
    """How long a pod may stay unschedulable before the run fails."""
    oci_watch_timeout_seconds: int = Field(default=60, ge=1)
    """Server-side timeout of one watch request; the executor re-watches after it."""
    oci_log_tail_lines: int = Field(default=2000, ge=10)
    """How many trailing log lines are read to find the result line."""

    def integration_base_url(self, plugin_id: str, default: str) -> str:
        """The API base URL an integration calls: the override if set, else ``default``.
        Trailing slashes are removed so callers can append ``/path``."""
        return self.integration_base_urls.get(plugin_id, default).rstrip("/")

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("function-runner")
