"""Settings of the Admin API (env prefix ``ADMIN_API_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

APP_ID = "admin-api"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADMIN_API_", extra="ignore", populate_by_name=True
    )

    port: int = Field(
        default=8082, validation_alias=AliasChoices("APP_PORT", "ADMIN_API_PORT", "port")
    )

    database_url: str | None = None
    """SQLAlchemy URL (``sqlite:///...`` or ``postgresql://...``); embedded default:
    ``<data_dir>/admin-api.db``."""
    migrate_on_startup: bool = True
    redis_url: str | None = None
    """Shared rate-limit counters across replicas; unset = in-process counters."""
    redis_key_prefix: str = "admin-api:rl:"

    # --- tokens --------------------------------------------------------------------------
    jwt_issuer: str = "admin-api"
    jwt_audience: str = "workflow-builder"
    jwt_algorithm: Literal["EdDSA", "RS256"] = "EdDSA"
    jwt_private_key: SecretStr | None = None
    """PEM of the signing key (from the secret store). Required outside embedded mode
    unless ``jwt_private_key_file`` is set."""
    jwt_private_key_file: Path | None = None
    """A mounted secret file holding the PEM; embedded default: generated under the data
    dir on first start."""
    jwt_leeway_s: float = 30.0
    access_token_ttl_s: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=300)
    retired_key_grace_s: int = Field(default=86_400, ge=0)
    """How long a rotated-out signing key stays in the JWKS (>= the access-token TTL)."""

    # --- login protection -----------------------------------------------------------------
    login_limit_per_ip: int = 30
    login_limit_per_account: int = 10
    register_limit_per_ip: int = 20
    rate_window_s: int = 60
    lockout_threshold: int = 5
    lockout_s: int = 900
    password_hash_time_cost: int = Field(default=3, ge=1, le=10)
    password_hash_memory_kib: int = Field(default=65_536, ge=8_192, le=1_048_576)

    # --- other services -------------------------------------------------------------------
    orchestrator_app_id: str = "workflow-orchestrator"
    orchestrator_timeout_s: float = 15.0
    internal_callers: list[str] = Field(
        default_factory=lambda: ["workflow-orchestrator", "builder-bff", "function-runner"]
    )
    """App ids allowed to call the internal endpoints (introspection, authz, audit)."""
    app_api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("APP_API_TOKEN", "app_api_token")
    )
    """Dapr's ``APP_API_TOKEN``: when set, internal calls must carry it."""

    public_url: str = "http://127.0.0.1:3000"
    """Base of links handed to people (invitation links)."""
    invitation_ttl_s: int = 7 * 86_400
    bootstrap_default_tenant: bool = True
    """The first user of a fresh install owns a default company/organization/project."""
    dashboard_max_runs: int = Field(default=5000, ge=100, le=100_000)

    # --- triggers ---------------------------------------------------------------------------
    triggers_enabled: bool = True
    """Run the trigger machinery (reconciler, event subscriptions). Off: deploy/stop still
    record trigger rows, nothing is scheduled or subscribed."""
    trigger_secret_key: SecretStr | None = None
    """Base64 of 32 random bytes: encrypts webhook secrets at rest (AES-256-GCM)."""
    trigger_secret_key_file: Path | None = None
    """A mounted secret file holding that key; embedded default: generated under the data
    dir on first start."""
    trigger_missed_grace_s: float = Field(default=60.0, ge=0)
    """A schedule delivery later than this after its occurrence is a missed occurrence."""
    trigger_reconcile_interval_s: float = Field(default=15.0, gt=0)
    trigger_queue_limit: int = Field(default=10, ge=1, le=1000)
    """Firings an overlap policy of ``queue`` keeps waiting per trigger."""
    trigger_pending_retry_s: float = Field(default=30.0, gt=0)
    """A firing left ``pending`` this long (a crash mid-start) is finished by the reconciler."""
    webhook_callers: list[str] = Field(default_factory=lambda: ["builder-bff"])
    """App ids that may relay webhooks to the internal webhook endpoint."""
    webhook_max_body_bytes: int = Field(default=1_000_000, ge=1024)
    webhook_idempotency_ttl_s: int = Field(default=86_400, ge=60)
    event_subscription_max_backoff_s: float = Field(default=30.0, gt=0)

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("admin-api")

    def trigger_key_path(self) -> Path:
        return self.trigger_secret_key_file or (self.data_dir / "admin-api" / "trigger-secrets.key")

    def signing_key_path(self) -> Path:
        return self.jwt_private_key_file or (self.data_dir / "admin-api" / "jwt-signing-key.pem")

    @model_validator(mode="after")
    def _require_real_key_outside_embedded(self) -> Settings:
        if (
            self.mode != "embedded"
            and self.jwt_private_key is None
            and not self.jwt_private_key_file
        ):
            raise ValueError(
                "no JWT signing key configured: set ADMIN_API_JWT_PRIVATE_KEY (PEM) or "
                "ADMIN_API_JWT_PRIVATE_KEY_FILE outside embedded mode"
            )
        if self.retired_key_grace_s < self.access_token_ttl_s:
            raise ValueError("retired_key_grace_s must be at least access_token_ttl_s")
        return self
