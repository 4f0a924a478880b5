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

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("orchestrator")
