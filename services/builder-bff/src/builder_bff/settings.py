"""Settings of the Builder BFF (env prefix ``BUILDER_BFF_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

APP_ID = "builder-bff"


def _default_ui_dir() -> Path:
    """``ui/dist`` of the repository this package is installed from (a source checkout)."""
    return Path(__file__).resolve().parents[4] / "ui" / "dist"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="BUILDER_BFF_", extra="ignore", populate_by_name=True
    )

    port: int = Field(
        default=3000, validation_alias=AliasChoices("APP_PORT", "BUILDER_BFF_PORT", "port")
    )
    ui_dir: Path = Field(default_factory=_default_ui_dir)
    """The built UI (``vite build`` output) served at ``/``."""

    admin_app_id: str = "admin-api"
    orchestrator_app_id: str = "workflow-orchestrator"
    function_runner_app_id: str = "function-runner"

    cookie_secure: bool | None = None
    """Mark session cookies ``Secure``; defaults to on, off only in embedded mode (plain-http
    localhost). Set ``BUILDER_BFF_COOKIE_SECURE=true`` behind TLS in any mode."""
    cookie_prefix: str = "wfb"
    allowed_origins: list[str] = Field(default_factory=list)
    """Extra origins allowed to send state-changing requests (same origin always is)."""

    upstream_timeout_seconds: float = Field(default=30, gt=0)
    catalog_cache_seconds: float = Field(default=15, ge=0)
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    """Largest request body accepted (definitions, trigger data)."""
    webhook_max_body_bytes: int = Field(default=1_048_576, gt=0)
    """Largest webhook body relayed to admin-api (413 above)."""
    webhook_timeout_seconds: float = Field(default=330, gt=0)
    """How long a webhook call may take: longer than the longest sync-mode wait (300 s)."""
    refresh_margin_seconds: int = Field(default=30, ge=0)
    """Refresh the access token when it expires within this many seconds."""

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else not self.is_embedded
