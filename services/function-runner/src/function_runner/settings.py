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

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("function-runner")
