"""Who is acting, from where, on which tenant: the small types every domain passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from admin_api.apikeys.models import ApiKey
    from admin_api.users.models import User

ActorKind = Literal["user", "api_key", "service", "anonymous"]


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Tenant:
    company_id: str
    organization_id: str | None = None
    project_id: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "companyId": self.company_id,
            "organizationId": self.organization_id,
            "projectId": self.project_id,
        }


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None
    label: str
    user: User | None = None
    api_key: ApiKey | None = None
    credential: str | None = None

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

    @property
    def authorization_header(self) -> str | None:
        return f"Bearer {self.credential}" if self.credential else None

    @classmethod
    def anonymous(cls, label: str = "") -> Actor:
        return cls(kind="anonymous", id=None, label=label)

    @classmethod
    def for_user(cls, user: User, credential: str | None = None) -> Actor:
        return cls(kind="user", id=user.id, label=user.email, user=user, credential=credential)
