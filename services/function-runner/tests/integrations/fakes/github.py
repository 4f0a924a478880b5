"""GitHub REST v3: /repos/{owner}/{repo}/issues[/{number}]."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Call, Recorder, error, gate, read

DOCS = "https://docs.github.com/rest"


def issue(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": 1000 + number,
        "node_id": "I_kw",
        "url": f"https://api.github.com/repos/acme/platform/issues/{number}",
        "html_url": f"https://github.com/acme/platform/issues/{number}",
        "number": number,
        "state": "open",
        "state_reason": None,
        "title": f"Issue {number}",
        "body": "Body",
        "user": {"login": "octocat", "id": 1},
        "labels": [{"id": 1, "name": "bug", "color": "f29513"}],
        "assignees": [{"login": "octocat"}],
        "comments": 2,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
        "closed_at": None,
        **fields,
    }


def _check(call: Call) -> Response | None:
    denied = gate(
        call,
        unauthorized=lambda: error(
            401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
        ),
        limited=lambda: error(
            403,
            {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS},
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 60),
            },
        ),
    )
    if denied:
        return denied
    if call.headers.get("accept") != "application/vnd.github+json" or not call.headers.get(
        "x-github-api-version"
    ):
        return error(415, {"message": "Unsupported 'Accept' header", "documentation_url": DOCS})
    if not call.headers.get("user-agent"):
        return error(
            403,
            {
                "message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"
            },
        )
    if call.path.split("/")[3:5] != ["acme", "platform"]:
        return error(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
    return None


def _invalid(field: str, value: Any) -> JSONResponse:
    return error(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "invalid", "field": field, "value": value}],
            "documentation_url": DOCS,
        },
    )


def app(recorder: Recorder) -> Starlette:
    async def issues(request: Request) -> Response:
        call = await read(request, recorder, "github")
        if denied := _check(call):
            return denied
        if call.method == "GET":
            pull = issue(
                9, pull_request={"url": "https://api.github.com/repos/acme/platform/pulls/9"}
            )
            return JSONResponse([issue(1), pull, issue(2, labels=[])])
        body = call.body or {}
        if not body.get("title"):
            return error(
                422,
                {
                    "message": 'Invalid request.\n\n"title" wasn\'t supplied.',
                    "documentation_url": DOCS,
                },
            )
        if "ghost" in (body.get("assignees") or []):
            return _invalid("assignees", "ghost")
        created = issue(
            42,
            title=body["title"],
            body=body.get("body"),
            labels=[{"name": n} for n in body.get("labels") or []],
            assignees=[{"login": a} for a in body.get("assignees") or []],
        )
        return JSONResponse(created, status_code=201)

    async def one(request: Request) -> Response:
        call = await read(request, recorder, "github")
        if denied := _check(call):
            return denied
        number = int(request.path_params["number"])
        if number == 404:
            return error(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
        if call.method == "GET":
            return JSONResponse(issue(number))
        body = call.body or {}
        if body.get("state") not in (None, "open", "closed"):
            return _invalid("state", body["state"])
        updates = {k: v for k, v in body.items() if k in ("title", "body", "state", "state_reason")}
        if "labels" in body:
            updates["labels"] = [{"name": n} for n in body["labels"]]
        return JSONResponse(issue(number, **updates))

    return Starlette(
        routes=[
            Route("/repos/{owner}/{repo}/issues", issues, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}", one, methods=["GET", "PATCH"]),
        ]
    )
