from __future__ import annotations

from typing import Any, Literal

from pydantic import EmailStr, Field, field_validator

from admin_api.schemas import ApiModel, Name, RequestModel
from admin_api.tenancy.schemas import MembershipSummary
from admin_api.users.schemas import UserOut


class RegisterRequest(RequestModel):
    email: EmailStr
    password: str = Field(min_length=10, max_length=256)
    display_name: Name | None = None

    @field_validator("password")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class LoginRequest(RequestModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(ApiModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class RegisterResponse(ApiModel):
    user: UserOut
    default_project_id: str | None = Field(
        default=None, description="set for the first user of a fresh install"
    )


class MeResponse(ApiModel):
    user: UserOut
    memberships: list[MembershipSummary]


class IntrospectRequest(RequestModel):
    token: str = Field(min_length=1, max_length=4096)


class IntrospectResponse(ApiModel):
    active: bool
    sub: str | None = None
    kind: Literal["user", "api_key"] | None = None
    project_id: str | None = None
    role: str | None = None
    exp: int | None = None


class ResourceRef(RequestModel):
    type: Literal["company", "organization", "project", "workflow"]
    id: str = Field(min_length=1, max_length=64)


class AuthzRequest(RequestModel):
    token: str = Field(min_length=1, max_length=4096)
    resource: ResourceRef
    action: str = Field(min_length=1, max_length=64)


class AuthzResponse(ApiModel):
    allowed: bool
    role: str | None = None
    tenant: dict[str, Any] | None = None
