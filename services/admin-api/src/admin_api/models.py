"""Every table of the Admin API (imported so Alembic sees the whole metadata)."""

from admin_api.apikeys.models import ApiKey
from admin_api.audit.models import AuditEvent
from admin_api.auth.models import RefreshToken, SigningKey
from admin_api.db import Base
from admin_api.tenancy.models import Company, Invitation, Membership, Organization, Project
from admin_api.triggers.models import Firing, Trigger, UsedSignature, WebhookSecret
from admin_api.users.models import User
from admin_api.workflows.models import Workflow, WorkflowVersion

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Company",
    "Firing",
    "Invitation",
    "Membership",
    "Organization",
    "Project",
    "RefreshToken",
    "SigningKey",
    "Trigger",
    "UsedSignature",
    "User",
    "WebhookSecret",
    "Workflow",
    "WorkflowVersion",
]
