"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["embedded", "self-hosted", "kubernetes"]


class ServiceSettings(BaseSettings):
    """Base settings. Subclasses set ``model_config`` with their own ``env_prefix``.

    Variables that Dapr itself defines (``DAPR_HTTP_PORT``, ``DAPR_GRPC_PORT``, ``APP_PORT``)
    are read without the prefix so ``dapr run`` and the local sidecar configure every
    service the same way.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    mode: Mode = Field(default="embedded", validation_alias=AliasChoices("WFB_MODE", "mode"))
    host: str = "127.0.0.1"
    port: int = Field(default=8080, validation_alias=AliasChoices("APP_PORT", "port"))
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("WFB_LOG_LEVEL", "log_level")
    )
    log_format: Literal["json", "text"] = Field(
        default="json", validation_alias=AliasChoices("WFB_LOG_FORMAT", "log_format")
    )
    data_dir: Path = Field(
        default=Path(".data"), validation_alias=AliasChoices("WFB_DATA_DIR", "data_dir")
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"),
    )
    dapr_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("DAPR_HOST", "dapr_host")
    )
    dapr_http_port: int = Field(
        default=3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "dapr_http_port")
    )
    dapr_grpc_port: int = Field(
        default=50001, validation_alias=AliasChoices("DAPR_GRPC_PORT", "dapr_grpc_port")
    )
    dapr_api_token: str | None = Field(
        default=None, validation_alias=AliasChoices("DAPR_API_TOKEN", "dapr_api_token")
    )
    require_sidecar: bool = Field(
        default=True, validation_alias=AliasChoices("WFB_REQUIRE_SIDECAR", "require_sidecar")
    )
    """Whether /readyz fails while the Dapr sidecar is unreachable."""

    @property
    def dapr_http_endpoint(self) -> str:
        return f"http://{self.dapr_host}:{self.dapr_http_port}"

    @property
    def is_embedded(self) -> bool:
        return self.mode == "embedded"

    def sqlite_url(self, name: str) -> str:
        """Default database URL in embedded mode: ``<data_dir>/<name>.db``."""
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    @model_validator(mode="after")
    def _refuse_placeholders_outside_embedded(self) -> ServiceSettings:
        if self.mode == "embedded":
            return self
        for name, value in self.secret_settings().items():
            if value is None or value == "" or "change-me" in value or value.startswith("dev-"):
                raise ValueError(
                    f"setting {name!r} holds a placeholder or is empty; "
                    f"set a real value outside embedded mode"
                )
        return self

    def secret_settings(self) -> dict[str, str | None]:
        """Settings that must hold real secrets outside embedded mode (override)."""
        return {}
