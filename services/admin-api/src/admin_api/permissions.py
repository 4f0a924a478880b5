"""The permission matrix: which role may do what. The one place it is written down.

Roles are ranked ``viewer < editor < admin < owner``; a membership on a company or an
organization gives that role on everything inside it, and the effective role on a
resource is the highest one found on it or its ancestors. Each action names the least
role that may perform it. ``tenancy.access.Authorize`` enforces this table for every
tenant-scoped route, and the README's matrix is generated from it
(``render_markdown``; a test keeps the two identical).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"
    OWNER = "owner"


RANK: dict[Role, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3, Role.OWNER: 4}
ROLES_ASCENDING: tuple[Role, ...] = tuple(sorted(Role, key=RANK.__getitem__))


class Action(StrEnum):
    TENANT_READ = "tenant.read"
    TENANT_UPDATE = "tenant.update"
    TENANT_CREATE_CHILD = "tenant.create_child"
    TENANT_DELETE = "tenant.delete"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    OWNERSHIP_TRANSFER = "ownership.transfer"
    WORKFLOW_READ = "workflow.read"
    WORKFLOW_WRITE = "workflow.write"
    WORKFLOW_RUN = "workflow.run"
    WORKFLOW_DEPLOY = "workflow.deploy"
    WORKFLOW_DELETE = "workflow.delete"
    EXECUTIONS_READ = "executions.read"
    APIKEYS_MANAGE = "apikeys.manage"
    AUDIT_READ = "audit.read"
    WEBHOOK_SECRET = "webhook.secret"  # noqa: S105 - an action name


MIN_ROLE: dict[Action, Role] = {
    Action.TENANT_READ: Role.VIEWER,
    Action.MEMBERS_READ: Role.VIEWER,
    Action.WORKFLOW_READ: Role.VIEWER,
    Action.EXECUTIONS_READ: Role.VIEWER,
    Action.WORKFLOW_WRITE: Role.EDITOR,
    Action.WORKFLOW_RUN: Role.EDITOR,
    Action.WORKFLOW_DEPLOY: Role.ADMIN,
    Action.WORKFLOW_DELETE: Role.ADMIN,
    Action.TENANT_UPDATE: Role.ADMIN,
    Action.TENANT_CREATE_CHILD: Role.ADMIN,
    Action.MEMBERS_MANAGE: Role.ADMIN,
    Action.APIKEYS_MANAGE: Role.ADMIN,
    Action.AUDIT_READ: Role.ADMIN,
    Action.WEBHOOK_SECRET: Role.ADMIN,
    Action.TENANT_DELETE: Role.OWNER,
    Action.OWNERSHIP_TRANSFER: Role.OWNER,
}

DESCRIPTIONS: dict[Action, str] = {
    Action.TENANT_READ: "see a company / organization / project and list what is inside",
    Action.MEMBERS_READ: "list members and pending invitations",
    Action.WORKFLOW_READ: "read workflows, versions, diffs, exports",
    Action.EXECUTIONS_READ: "list executions, read the dashboard",
    Action.WORKFLOW_WRITE: "create, edit, save, import, restore workflows",
    Action.WORKFLOW_RUN: "run a workflow now",
    Action.WORKFLOW_DEPLOY: "deploy and stop workflows",
    Action.WORKFLOW_DELETE: "delete workflows",
    Action.TENANT_UPDATE: "rename / edit a company, organization or project",
    Action.TENANT_CREATE_CHILD: "create organizations in a company, projects in an organization",
    Action.MEMBERS_MANAGE: "invite, add, change and remove members (owners only by owners)",
    Action.APIKEYS_MANAGE: "create, list and revoke a project's API keys",
    Action.AUDIT_READ: "read the audit log",
    Action.WEBHOOK_SECRET: "reveal or rotate a workflow's webhook secret",
    Action.TENANT_DELETE: "delete a company, organization or project",
    Action.OWNERSHIP_TRANSFER: "transfer ownership; grant, change or remove the owner role",
}

USER_ONLY: frozenset[Action] = frozenset(
    {
        Action.MEMBERS_MANAGE,
        Action.OWNERSHIP_TRANSFER,
        Action.APIKEYS_MANAGE,
        Action.TENANT_DELETE,
    }
)
"""Actions an API key can never perform, whatever its role: they manage identities."""

API_KEY_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.EDITOR, Role.ADMIN)


def at_least(role: Role, minimum: Role) -> bool:
    return RANK[role] >= RANK[minimum]


def allows(role: Role, action: Action, *, api_key: bool = False) -> bool:
    if api_key and action in USER_ONLY:
        return False
    return at_least(role, MIN_ROLE[action])


def highest(roles: list[Role]) -> Role | None:
    return max(roles, key=RANK.__getitem__) if roles else None


def render_markdown() -> str:
    """The matrix as a Markdown table (what the README shows)."""
    head = "| action | " + " | ".join(r.value for r in ROLES_ASCENDING) + " | API key | what |"
    sep = "| --- " * (len(ROLES_ASCENDING) + 3) + "|"
    rows = [head, sep]
    for action in sorted(MIN_ROLE, key=lambda a: (RANK[MIN_ROLE[a]], a.value)):
        cells = ["yes" if allows(r, action) else "-" for r in ROLES_ASCENDING]
        key = "never" if action in USER_ONLY else "by its role"
        rows.append(f"| `{action.value}` | {' | '.join(cells)} | {key} | {DESCRIPTIONS[action]} |")
    return "\n".join(rows)
