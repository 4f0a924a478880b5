from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, model_validator

from admin_api.schemas import ApiModel, Description, Name, RequestModel, Slug

RoleName = Literal["viewer", "editor", "admin", "owner"]
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ScopeType = Literal["company", "organization", "project"]


class TenantCreate(RequestModel):
    name: Name
    slug: Slug | None = Field(default=None, description="default: derived from the name")
    description: Description = ""


class TenantUpdate(RequestModel):
    name: Name | None = None
    slug: Slug | None = None
    description: Description | None = None


class CompanyOut(ApiModel):
    id: str
    name: str
    slug: str
    description: str
    created_at: datetime
    updated_at: datetime


class OrganizationOut(CompanyOut):
    company_id: str


class ProjectOut(CompanyOut):
    company_id: str
    organization_id: str


class MemberAdd(RequestModel):
    email: EmailStr | None = None
    user_id: str | None = Field(default=None, pattern=ID_PATTERN)
    role: RoleName

    @model_validator(mode="after")
    def _one_identity(self) -> MemberAdd:
        if (self.email is None) == (self.user_id is None):
            raise ValueError("give exactly one of email and userId")
        return self


class MemberUpdate(RequestModel):
    role: RoleName


class OwnershipTransfer(RequestModel):
    user_id: str = Field(pattern=ID_PATTERN)


class MemberOut(ApiModel):
    user_id: str
    email: str
    display_name: str
    role: str
    scope_type: str
    scope_id: str
    created_at: datetime


class InvitationCreate(RequestModel):
    email: EmailStr
    role: RoleName = "viewer"


class InvitationOut(ApiModel):
    id: str
    email: str
    role: str
    scope_type: str
    scope_id: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreated(InvitationOut):
    token: str = Field(description="shown only here; part of acceptUrl")
    accept_url: str


class InvitationAccept(RequestModel):
    token: str = Field(min_length=1, max_length=200)


class MembershipSummary(ApiModel):
    scope_type: str
    scope_id: str
    role: str
    name: str
