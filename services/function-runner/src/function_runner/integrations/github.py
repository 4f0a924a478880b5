"""GitHub issues over REST v3: create, list, get and update.

Credentials (integration ``github``): ``token`` (a personal access or app token; also
``apiKey``, ``accessToken`` or ``GITHUB_TOKEN``). GitHub reports an exhausted rate limit as
403/429 with ``x-ratelimit-remaining: 0`` (reset in ``x-ratelimit-reset``) or a secondary
limit with ``retry-after``: both become ``rate_limited``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import (
    Vendor,
    retry_after,
    schema,
    string_list,
    text_field,
)

GITHUB = Vendor(
    "github",
    "GitHub",
    "https://api.github.com",
    ("token", "apiKey", "accessToken", "GITHUB_TOKEN"),
)
API_VERSION = "2022-11-28"

OWNER = text_field("Owner", "User or organization that owns the repository.", minLength=1)
REPO = text_field("Repository", "Repository name.", minLength=1)
NUMBER = {
    "type": "integer",
    "title": "Issue number",
    "minimum": 1,
    "description": "The issue's number.",
}
LABELS = {
    "type": ["array", "string"],
    "title": "Labels",
    "description": "Label names (a list or comma-separated).",
    "items": {"type": "string"},
}
ASSIGNEES = {
    "type": ["array", "string"],
    "title": "Assignees",
    "description": "GitHub logins (a list or comma-separated).",
    "items": {"type": "string"},
}
ISSUE = schema(
    {
        "id": {"type": "integer"},
        "number": {"type": "integer"},
        "title": {"type": "string"},
        "body": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": ["open", "closed"]},
        "stateReason": {"type": ["string", "null"]},
        "url": {"type": "string", "description": "The issue's page."},
        "apiUrl": {"type": "string"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "assignees": {"type": "array", "items": {"type": "string"}},
        "author": {"type": ["string", "null"]},
        "comments": {"type": "integer"},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
        "closedAt": {"type": ["string", "null"]},
    },
    ("id", "number", "title", "state", "url"),
)


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {GITHUB.secret(ctx)}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "workflow-builder-function-runner",
    }


def _repo_path(input: dict[str, Any]) -> str:
    return f"/repos/{quote(input['owner'], safe='')}/{quote(input['repo'], safe='')}"


async def _call(ctx: ExecutionContext, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await GITHUB.request(
        ctx, method, path, headers=_headers(ctx), on_error=_rate_limit, **kwargs
    )


def _rate_limit(response: httpx.Response) -> FunctionError | None:
    """GitHub answers an exhausted primary or secondary rate limit with 403 (or 429)."""
    if response.status_code not in (403, 429):
        return None
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = response.text
    exhausted = response.headers.get("x-ratelimit-remaining") == "0"
    if not exhausted and "rate limit" not in message.lower():
        return None
    return FunctionError(
        f"GitHub API rate limit: {message or response.status_code}",
        code="rate_limited",
        retryable=True,
        retry_after=retry_after(response.headers),
        status=response.status_code,
    )


def issue(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "number": data.get("number"),
        "title": data.get("title"),
        "body": data.get("body"),
        "state": data.get("state"),
        "stateReason": data.get("state_reason"),
        "url": data.get("html_url"),
        "apiUrl": data.get("url"),
        "labels": [
            label["name"] if isinstance(label, dict) else str(label)
            for label in data.get("labels") or []
        ],
        "assignees": [a.get("login") for a in data.get("assignees") or []],
        "author": (data.get("user") or {}).get("login"),
        "comments": data.get("comments", 0),
        "createdAt": data.get("created_at"),
        "updatedAt": data.get("updated_at"),
        "closedAt": data.get("closed_at"),
    }


@builtin(
    slug="github/create-issue",
    name="Create Issue",
    description="Open an issue in a GitHub repository.",
    category="GitHub",
    integration_type="github",
    input_schema=schema(
        {
            "owner": OWNER,
            "repo": REPO,
            "title": text_field("Title", "Issue title.", minLength=1),
            "body": text_field(
                "Body", "Issue description (Markdown).", **{"x-ui-widget": "textarea"}
            ),
            "labels": LABELS,
            "assignees": ASSIGNEES,
            "milestone": {
                "type": "integer",
                "title": "Milestone",
                "description": "Milestone number.",
            },
        },
        ("owner", "repo", "title"),
    ),
    output_schema=ISSUE,
)
async def create_issue(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {"title": input["title"]}
    if input.get("body"):
        body["body"] = input["body"]
    if labels := string_list(input.get("labels")):
        body["labels"] = labels
    if assignees := string_list(input.get("assignees")):
        body["assignees"] = assignees
    if input.get("milestone"):
        body["milestone"] = input["milestone"]
    response = await _call(ctx, "POST", f"{_repo_path(input)}/issues", json=body)
    return issue(GITHUB.json(response))


@builtin(
    slug="github/list-issues",
    name="List Issues",
    description="List a repository's issues (pull requests are left out).",
    category="GitHub",
    integration_type="github",
    input_schema=schema(
        {
            "owner": OWNER,
            "repo": REPO,
            "state": {
                "type": "string",
                "title": "State",
                "enum": ["open", "closed", "all"],
                "default": "open",
            },
            "labels": LABELS,
            "assignee": text_field("Assignee", "A login, 'none' or '*'."),
            "since": text_field("Updated since", "ISO 8601 time.", format="date-time"),
            "sort": {"type": "string", "title": "Sort", "enum": ["created", "updated", "comments"]},
            "direction": {"type": "string", "title": "Direction", "enum": ["asc", "desc"]},
            "perPage": {
                "type": "integer",
                "title": "Per page",
                "minimum": 1,
                "maximum": 100,
                "default": 30,
            },
            "page": {"type": "integer", "title": "Page", "minimum": 1, "default": 1},
        },
        ("owner", "repo"),
    ),
    output_schema=schema(
        {"issues": {"type": "array", "items": ISSUE}, "count": {"type": "integer"}},
        ("issues", "count"),
    ),
)
async def list_issues(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    labels = string_list(input.get("labels"))
    params = {
        "state": input.get("state", "open"),
        "labels": ",".join(labels) or None,
        "assignee": input.get("assignee"),
        "since": input.get("since"),
        "sort": input.get("sort"),
        "direction": input.get("direction"),
        "per_page": input.get("perPage", 30),
        "page": input.get("page", 1),
    }
    response = await _call(ctx, "GET", f"{_repo_path(input)}/issues", params=params)
    issues = [issue(item) for item in GITHUB.json(response) if "pull_request" not in item]
    return {"issues": issues, "count": len(issues)}


@builtin(
    slug="github/get-issue",
    name="Get Issue",
    description="Read one issue of a repository.",
    category="GitHub",
    integration_type="github",
    input_schema=schema(
        {"owner": OWNER, "repo": REPO, "issueNumber": NUMBER}, ("owner", "repo", "issueNumber")
    ),
    output_schema=ISSUE,
)
async def get_issue(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    response = await _call(ctx, "GET", f"{_repo_path(input)}/issues/{int(input['issueNumber'])}")
    return issue(GITHUB.json(response))


@builtin(
    slug="github/update-issue",
    name="Update Issue",
    description="Change an issue's title, body, state, labels or assignees.",
    category="GitHub",
    integration_type="github",
    input_schema=schema(
        {
            "owner": OWNER,
            "repo": REPO,
            "issueNumber": NUMBER,
            "title": text_field("Title", "New title."),
            "body": text_field("Body", "New description.", **{"x-ui-widget": "textarea"}),
            "state": {"type": "string", "title": "State", "enum": ["open", "closed"]},
            "stateReason": {
                "type": "string",
                "title": "State reason",
                "enum": ["completed", "not_planned", "reopened"],
            },
            "labels": LABELS,
            "assignees": ASSIGNEES,
        },
        ("owner", "repo", "issueNumber"),
    ),
    output_schema=ISSUE,
)
async def update_issue(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, field in (
        ("title", "title"),
        ("body", "body"),
        ("state", "state"),
        ("stateReason", "state_reason"),
    ):
        if input.get(key) is not None:
            body[field] = input[key]
    if "labels" in input:
        body["labels"] = string_list(input["labels"])
    if "assignees" in input:
        body["assignees"] = string_list(input["assignees"])
    if not body:
        raise FunctionError(
            "nothing to update: give a title, body, state, labels or assignees", code="validation"
        )
    path = f"{_repo_path(input)}/issues/{int(input['issueNumber'])}"
    response = await _call(ctx, "PATCH", path, json=body)
    return issue(GITHUB.json(response))
