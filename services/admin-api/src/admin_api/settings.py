"""Settings of the Admin API (env prefix ``ADMIN_API_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
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

    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_url("admin-api")
