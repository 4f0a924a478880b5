"""Credentials API models. Values are write-only: no response model has them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from function_runner.functions.schemas import IDENT_PATTERN, UtcDatetime

FieldName = str


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration_type: str = Field(pattern=IDENT_PATTERN)
    name: str = Field(default="default", pattern=IDENT_PATTERN)
    values: dict[str, str] = Field(min_length=1, max_length=50)
    """Field name -> secret value, e.g. ``{"apiKey": "sk-..."}`` or
    ``{"HEADER_X_API_KEY": "..."}`` for HTTP functions."""


class CredentialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, str] = Field(min_length=1, max_length=50)


class CredentialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    integration_type: str
    name: str
    field_names: list[str]
    key_id: str
    created_at: UtcDatetime
    updated_at: UtcDatetime


class CredentialList(BaseModel):
    items: list[CredentialOut]


class RotationResult(BaseModel):
    active_key_id: str
    reencrypted: int
