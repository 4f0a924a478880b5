"""Resend: POST /emails."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

ADDRESS = re.compile(r"^([^<>]*<)?[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+>?$")


def resend_error(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return error(status, {"statusCode": status, "name": name, "message": message}, headers)


def app(recorder: Recorder) -> Starlette:
    async def emails(request: Request) -> Response:
        call = await read(request, recorder, "resend")
        denied = gate(
            call,
            unauthorized=lambda: resend_error(
                401, "missing_api_key", "Missing API key in the authorization header."
            ),
            limited=lambda: resend_error(
                429,
                "rate_limit_exceeded",
                "Too many requests. You can only make 2 requests per second.",
                {
                    "ratelimit-limit": "2",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": "1",
                    "retry-after": "1",
                },
            ),
        )
        if denied:
            return denied
        body = call.body or {}
        for field in ("from", "to", "subject"):
            if not body.get(field):
                return resend_error(422, "missing_required_field", f"Missing `{field}` field.")
        if not ADDRESS.match(body["from"]):
            return resend_error(
                422,
                "validation_error",
                "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
            )
        if not isinstance(body["to"], list) or not all(ADDRESS.match(t) for t in body["to"]):
            return resend_error(422, "validation_error", "Invalid `to` field.")
        if not body.get("text") and not body.get("html"):
            return resend_error(422, "validation_error", "Missing `html` or `text` field.")
        return JSONResponse({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})

    return Starlette(routes=[Route("/emails", emails, methods=["POST"])])
