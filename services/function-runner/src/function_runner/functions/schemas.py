"""Pydantic models of the registry API: create, update, the function as returned, lists."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from typing import Annotated, Any, Literal

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from function_runner.database import as_utc
from workflow_core.nodes import SLUG_PATTERN

ExecutionType = Literal["builtin", "oci", "http"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
SEMVER_PATTERN = r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
IDENT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
SENSITIVE_HEADER = re.compile(r"authorization|token|secret|key|cookie|password", re.IGNORECASE)
REDACTED = "[redacted]"

# Docker/OCI reference grammar (distribution/reference): [domain/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REF = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)


def check_json_schema(schema: dict[str, Any] | None, field: str) -> dict[str, Any] | None:
    """Refuse a schema that is not valid JSON Schema (checked against its metaschema)."""
    if schema is None:
        return None
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ValueError(f"{field} is not a valid JSON Schema at {where}: {exc.message}") from None
    return schema


def check_image_ref(value: str) -> str:
    match = IMAGE_REF.match(value)
    if match is None or len(match.group("path")) > 255:
        raise ValueError(
            f"{value!r} is not a valid OCI image reference; "
            "use [registry[:port]/]name[:tag][@sha256:digest], lower-case name"
        )
    return value


def parse_command(stored: str | None) -> list[str] | None:
    """The ``command`` column as argv: a JSON array, or a shell-style string."""
    if stored is None or not stored.strip():
        return None
    text = stored.strip()
    if text.startswith("["):
        loaded = json.loads(text)
        return [str(part) for part in loaded]
    return shlex.split(text)


def command_to_column(value: str | list[str] | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return json.dumps(value)
    shlex.split(value)  # raises ValueError on unbalanced quotes
    return value


class RetryPolicy(BaseModel):
    """Retries the runner makes itself for a retryable failure (attempts include the first)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    max_attempts: int = Field(default=3, ge=1, le=20, alias="maxAttempts")
    initial_interval_seconds: float = Field(
        default=0.1, gt=0, le=60, alias="initialIntervalSeconds"
    )
    backoff_coefficient: float = Field(default=2.0, ge=1, le=10, alias="backoffCoefficient")
    max_interval_seconds: float = Field(default=30.0, gt=0, le=600, alias="maxIntervalSeconds")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        raw = self.initial_interval_seconds * self.backoff_coefficient ** (attempt - 1)
        return float(min(raw, self.max_interval_seconds))


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None

    @field_validator("requests", "limits")
    @classmethod
    def _known_resources(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, quantity in (value or {}).items():
            if name not in {"cpu", "memory", "ephemeral-storage"}:
                raise ValueError(f"unknown resource {name!r}; use cpu, memory, ephemeral-storage")
            if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?", quantity):
                raise ValueError(f"{quantity!r} is not a Kubernetes quantity (e.g. 500m, 256Mi)")
        return value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=200)]
Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]
EnvName = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HeaderName = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class _Configurable(BaseModel):
    """Fields a user may set on a function (all optional here)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    version: str | None = Field(default=None, pattern=SEMVER_PATTERN)
    category: str | None = Field(default=None, pattern=IDENT_PATTERN)
    image_ref: str | None = Field(default=None, max_length=500)
    command: str | list[str] | None = None
    working_dir: str | None = Field(default=None, max_length=1000, pattern=r"^/")
    container_env: dict[str, str] | None = None
    resources: Resources | None = None
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_method: HttpMethod | None = None
    webhook_headers: dict[str, str] | None = None
    webhook_timeout_seconds: int | None = Field(default=None, ge=1, le=3600)
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    timeout_seconds: int | None = Field(default=None, ge=1, le=86400)
    retry_policy: RetryPolicy | None = None
    max_concurrency: int | None = Field(default=None, ge=0, le=100_000)
    integration_type: str | None = Field(default=None, pattern=IDENT_PATTERN)
    is_enabled: bool | None = None
    is_deprecated: bool | None = None

    @field_validator("image_ref")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image_ref(value)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not all(isinstance(p, str) and p for p in value):
            raise ValueError("command must be a non-empty string or a list of non-empty strings")
        if isinstance(value, str):
            try:
                shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"command cannot be split into arguments: {exc}") from None
        return value

    @field_validator("container_env")
    @classmethod
    def _env(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if not EnvName.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
            if name in {"INPUT", "EXECUTION_ID", "WORKFLOW_ID", "NODE_ID", "NODE_NAME"}:
                raise ValueError(f"{name!r} is set by the runner for every run")
        return value

    @field_validator("webhook_headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, header_value in (value or {}).items():
            if not HeaderName.match(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if "\n" in header_value or "\r" in header_value:
                raise ValueError(f"header {name!r} contains a line break")
        return value

    @field_validator("input_schema")
    @classmethod
    def _input_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_json_schema(value, "input_schema")

    @field_validator("output_schema")
    @classmethod
    def _output_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_json_schema(value, "output_schema")


class FunctionCreate(_Configurable):
    """Register an OCI or HTTP function (builtins are defined in code)."""

    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    plugin_id: str | None = Field(default=None, pattern=IDENT_PATTERN)
    execution_type: Literal["oci", "http"]

    @model_validator(mode="after")
    def _plugin_matches_slug(self) -> FunctionCreate:
        prefix = self.slug.split("/", 1)[0]
        if self.plugin_id is not None and self.plugin_id != prefix:
            raise ValueError(
                f"plugin_id {self.plugin_id!r} must match the slug's plugin part {prefix!r}"
            )
        return self


class FunctionUpdate(_Configurable):
    """Change a function; omitted fields keep their value. ``slug`` never changes."""

    execution_type: Literal["oci", "http"] | None = None


class FunctionOut(BaseModel):
    """A function as the API returns it (builder forms are rendered from the schemas)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str
    description: str | None
    plugin_id: str
    version: str
    execution_type: ExecutionType
    category: str | None
    image_ref: str | None
    command: list[str] | None
    working_dir: str | None
    container_env: dict[str, str] | None
    resources: dict[str, Any] | None
    webhook_url: str | None
    webhook_method: str
    webhook_headers: dict[str, str] | None
    webhook_timeout_seconds: int
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    timeout_seconds: int
    retry_policy: dict[str, Any] | None
    max_concurrency: int
    integration_type: str | None
    is_builtin: bool
    is_enabled: bool
    is_deprecated: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        return parse_command(value) if isinstance(value, str) or value is None else value

    @field_validator("webhook_headers", mode="before")
    @classmethod
    def _redact_headers(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: REDACTED if SENSITIVE_HEADER.search(k) else v for k, v in value.items()}
        return value


class FunctionList(BaseModel):
    """One page; pass ``next_cursor`` as ``cursor`` for the next (null: last page)."""

    items: list[FunctionOut]
    next_cursor: str | None = None


class FunctionCounts(BaseModel):
    total: int
    enabled: int
    disabled: int
    deprecated: int
    builtin: int
    by_execution_type: dict[str, int]
    by_plugin: dict[str, int]


class StatusOut(BaseModel):
    service: str
    version: str
    mode: str
    status: Literal["ok", "degraded"]
    database: str
    functions: FunctionCounts
    executors: dict[str, bool]
    concurrency_backend: Literal["redis", "local"]
    uptime_seconds: float
