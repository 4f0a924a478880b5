"""Settings of the Builder BFF (env prefix ``BUILDER_BFF_``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings

APP_ID = "builder-bff"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="BUILDER_BFF_", extra="ignore", populate_by_name=True
    )

    port: int = Field(
        default=3000, validation_alias=AliasChoices("APP_PORT", "BUILDER_BFF_PORT", "port")
    )
