"""Linear GraphQL: POST /graphql (issueCreate, issues, teams)."""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import GOOD, LIMITED, Recorder, error, read

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TEAM = "7a2c4e0e-5a0b-4c43-9e3b-1f1f0d6e2b11"


def gql_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "errors": [
            {
                "message": message,
                "extensions": {
                    "code": code,
                    "type": code.lower().replace("_", " "),
                    "userPresentableMessage": message,
                },
            }
        ],
        "data": None,
    }
    return error(status, body, headers)


def node(title: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "2b1d1f0e-1111-4c43-9e3b-1f1f0d6e2b11",
        "identifier": "ENG-123",
        "title": title,
        "description": fields.get("description"),
        "url": "https://linear.app/acme/issue/ENG-123",
        "priority": fields.get("priority", 0),
        "priorityLabel": "No priority",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "updatedAt": "2026-01-01T00:00:00.000Z",
        "state": {"id": "s1", "name": "Todo", "type": "unstarted"},
        "assignee": None,
        "team": {"id": TEAM, "key": "ENG", "name": "Engineering"},
        "labels": {"nodes": [{"id": "l1", "name": "bug"}]},
    }


def app(recorder: Recorder) -> Starlette:
    async def graphql(request: Request) -> Response:
        call = await read(request, recorder, "linear")
        auth = call.headers.get("authorization")
        if auth == LIMITED:
            reset = str(int(time.time() * 1000) + 45_000)
            return gql_error(
                400,
                "RATELIMITED",
                "Rate limit exceeded",
                {"X-RateLimit-Requests-Reset": reset, "X-RateLimit-Requests-Remaining": "0"},
            )
        if auth != GOOD:  # personal API keys are sent without "Bearer"
            return gql_error(
                401, "AUTHENTICATION_ERROR", "Authentication required, not authenticated"
            )
        body = call.body or {}
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "application/json" not in call.headers.get("content-type", "") or not query:
            return gql_error(400, "GRAPHQL_VALIDATION_FAILED", "Must provide query string.")
        if "teams(" in query:
            return JSONResponse(
                {"data": {"teams": {"nodes": [{"id": TEAM, "name": "Engineering"}]}}}
            )
        if "issueCreate" in query:
            issue_input = variables.get("input") or {}
            if not issue_input.get("teamId") or not issue_input.get("title"):
                return gql_error(
                    400, "INVALID_INPUT", "Argument Validation Error: teamId and title are required"
                )
            if "stateId" in issue_input and not UUID.match(issue_input["stateId"]):
                return gql_error(
                    400, "INVALID_INPUT", "Argument Validation Error: stateId must be a UUID."
                )
            return JSONResponse(
                {"data": {"issueCreate": {"success": True, "issue": node(**issue_input)}}}
            )
        if "issues(" in query:
            first = variables.get("first") or 50
            return JSONResponse(
                {
                    "data": {
                        "issues": {"nodes": [node("Login fails"), node("Checkout slow")][:first]}
                    }
                }
            )
        return gql_error(400, "GRAPHQL_VALIDATION_FAILED", "Cannot query field")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
