"""Linear (GraphQL API): ``linear/create-ticket`` and ``linear/find-issues``.

Credentials (integration ``linear``): ``apiKey`` (a personal API key, sent as-is in
``Authorization``; or ``accessToken``, an OAuth token sent as ``Bearer``; also
``LINEAR_API_KEY``) and optionally ``teamId`` (``LINEAR_TEAM_ID``): the team new tickets go
to when the input names none (else the first team). GraphQL errors come back with their
``extensions.code`` (``AUTHENTICATION_ERROR``, ``FORBIDDEN``, ``RATELIMITED``,
``INVALID_INPUT``...) and are mapped by it.
"""

from __future__ import annotations

from typing import Any

import httpx

from function_runner.builtins.base import ErrorCode, ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import (
    Vendor,
    retry_after,
    schema,
    string_list,
    text_field,
)

LINEAR = Vendor("linear", "Linear", "https://api.linear.app", ("apiKey", "LINEAR_API_KEY"))

_CODES: dict[str, tuple[ErrorCode, bool]] = {
    "AUTHENTICATION_ERROR": ("auth", False),
    "FORBIDDEN": ("forbidden", False),
    "RATELIMITED": ("rate_limited", True),
    "INVALID_INPUT": ("validation", False),
    "GRAPHQL_VALIDATION_FAILED": ("validation", False),
    "BAD_USER_INPUT": ("validation", False),
    "ENTITY_NOT_FOUND": ("not_found", False),
    "INTERNAL_SERVER_ERROR": ("upstream", True),
}
STATUS_TYPES = {
    "backlog": "backlog",
    "todo": "unstarted",
    "in_progress": "started",
    "done": "completed",
    "canceled": "canceled",
}
ISSUE_FIELDS = """
  id identifier title description url priority priorityLabel createdAt updatedAt
  state { id name type } assignee { id name email } team { id key name }
  labels { nodes { id name } }
"""
ISSUE = schema(
    {
        "id": {"type": "string"},
        "identifier": {"type": "string", "description": "e.g. ENG-123"},
        "title": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "url": {"type": "string"},
        "priority": {"type": "number"},
        "state": {"type": ["string", "null"]},
        "stateType": {"type": ["string", "null"]},
        "assignee": {"type": ["object", "null"]},
        "team": {"type": ["object", "null"]},
        "labels": {"type": "array", "items": {"type": "string"}},
        "createdAt": {"type": "string"},
    },
    ("id", "identifier", "title", "url"),
)


def _authorization(ctx: ExecutionContext) -> str:
    if token := LINEAR.optional(ctx, "accessToken"):
        return f"Bearer {token}"
    return LINEAR.secret(ctx)


async def graphql(ctx: ExecutionContext, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await LINEAR.request(
        ctx,
        "POST",
        "/graphql",
        headers={"Authorization": _authorization(ctx), "Content-Type": "application/json"},
        json={"query": query, "variables": variables},
        on_error=_graphql_error,
    )
    body = LINEAR.json(response)
    if body.get("errors"):
        raise _error_of(body, response)
    data: dict[str, Any] = body.get("data") or {}
    return data


def _graphql_error(response: httpx.Response) -> FunctionError | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("errors"):
        return _error_of(body, response)
    return None


def _error_of(body: dict[str, Any], response: httpx.Response) -> FunctionError:
    first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
    extensions = first.get("extensions") or {}
    code_name = str(extensions.get("code") or "").upper()
    code, retryable = _CODES.get(
        code_name, ("validation", False) if response.status_code == 400 else ("upstream", True)
    )
    if response.status_code == 401:
        code, retryable = "auth", False
    message = extensions.get("userPresentableMessage") or first.get("message") or "unknown error"
    return FunctionError(
        f"Linear API error ({code_name or response.status_code}): {message}",
        code=code,
        retryable=retryable,
        retry_after=retry_after(response.headers) if code == "rate_limited" else None,
        status=response.status_code,
    )


def _issue(node: dict[str, Any]) -> dict[str, Any]:
    state = node.get("state") or {}
    return {
        "id": node.get("id"),
        "identifier": node.get("identifier"),
        "title": node.get("title"),
        "description": node.get("description"),
        "url": node.get("url"),
        "priority": node.get("priority"),
        "state": state.get("name"),
        "stateType": state.get("type"),
        "assignee": node.get("assignee"),
        "team": node.get("team"),
        "labels": [label["name"] for label in (node.get("labels") or {}).get("nodes", [])],
        "createdAt": node.get("createdAt"),
    }


async def _team_id(input: dict[str, Any], ctx: ExecutionContext) -> str:
    if team := input.get("teamId") or LINEAR.optional(ctx, "teamId", "LINEAR_TEAM_ID"):
        return str(team)
    data = await graphql(ctx, "query Teams { teams(first: 1) { nodes { id name } } }", {})
    teams = (data.get("teams") or {}).get("nodes") or []
    if not teams:
        raise FunctionError(
            "the Linear workspace has no team to create the ticket in", code="validation"
        )
    return str(teams[0]["id"])


@builtin(
    slug="linear/create-ticket",
    name="Create Ticket",
    description="Create an issue in Linear.",
    category="Linear",
    integration_type="linear",
    input_schema=schema(
        {
            "title": text_field("Title", "Ticket title.", minLength=1),
            "description": text_field(
                "Description", "Markdown description.", **{"x-ui-widget": "textarea"}
            ),
            "teamId": text_field(
                "Team", "Team id (default: the integration's team, else the first team)."
            ),
            "priority": {
                "type": "integer",
                "title": "Priority",
                "description": "0 none, 1 urgent, 2 high, 3 normal, 4 low.",
                "minimum": 0,
                "maximum": 4,
            },
            "assigneeId": text_field("Assignee", "User id."),
            "stateId": text_field("State", "Workflow state id."),
            "labelIds": {
                "type": ["array", "string"],
                "title": "Labels",
                "description": "Label ids.",
                "items": {"type": "string"},
            },
        },
        ("title",),
    ),
    output_schema=ISSUE,
)
async def create_ticket(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    issue_input: dict[str, Any] = {"title": input["title"], "teamId": await _team_id(input, ctx)}
    for key in ("description", "priority", "assigneeId", "stateId"):
        if input.get(key) is not None and input.get(key) != "":
            issue_input[key] = input[key]
    if labels := string_list(input.get("labelIds")):
        issue_input["labelIds"] = labels
    query = f"""
    mutation CreateIssue($input: IssueCreateInput!) {{
      issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
    }}"""
    data = await graphql(ctx, query, {"input": issue_input})
    result = data.get("issueCreate") or {}
    if not result.get("success") or not result.get("issue"):
        raise FunctionError("Linear did not create the issue", code="upstream", retryable=True)
    return _issue(result["issue"])


@builtin(
    slug="linear/find-issues",
    name="Find Issues",
    description="Search Linear issues by text, team, assignee, status or label.",
    category="Linear",
    integration_type="linear",
    input_schema=schema(
        {
            "query": text_field("Text", "Matched against titles and descriptions."),
            "teamId": text_field("Team", "Team id."),
            "assigneeId": text_field("Assignee", "User id."),
            "status": {
                "type": "string",
                "title": "Status",
                "enum": ["any", *STATUS_TYPES],
                "default": "any",
            },
            "label": text_field("Label", "Label name."),
            "limit": {
                "type": "integer",
                "title": "Limit",
                "minimum": 1,
                "maximum": 100,
                "default": 20,
            },
        }
    ),
    output_schema=schema(
        {"issues": {"type": "array", "items": ISSUE}, "count": {"type": "integer"}},
        ("issues", "count"),
    ),
)
async def find_issues(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = []
    if text := input.get("query"):
        conditions.append(
            {
                "or": [
                    {"title": {"containsIgnoreCase": text}},
                    {"description": {"containsIgnoreCase": text}},
                ]
            }
        )
    if input.get("teamId"):
        conditions.append({"team": {"id": {"eq": input["teamId"]}}})
    if input.get("assigneeId"):
        conditions.append({"assignee": {"id": {"eq": input["assigneeId"]}}})
    status = input.get("status", "any")
    if status and status != "any":
        conditions.append({"state": {"type": {"eq": STATUS_TYPES[status]}}})
    if input.get("label"):
        conditions.append({"labels": {"name": {"eqIgnoreCase": input["label"]}}})
    query = f"""
    query FindIssues($filter: IssueFilter, $first: Int) {{
      issues(filter: $filter, first: $first, orderBy: updatedAt) {{ nodes {{ {ISSUE_FIELDS} }} }}
    }}"""
    variables = {
        "filter": {"and": conditions} if conditions else None,
        "first": input.get("limit", 20),
    }
    data = await graphql(ctx, query, variables)
    issues = [_issue(node) for node in (data.get("issues") or {}).get("nodes") or []]
    return {"issues": issues, "count": len(issues)}
