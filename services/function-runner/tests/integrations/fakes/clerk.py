"""Clerk Backend API: /v1/users and /v1/users/{id}."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read


def clerk_error(
    status: int, code: str, message: str, long: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "errors": [{"message": message, "long_message": long, "code": code, "meta": {}}],
        "clerk_trace_id": "t1",
    }
    return error(status, body, headers)


def user(uid: str, **fields: Any) -> dict[str, Any]:
    emails = fields.pop("email_address", ["jane@example.com"])
    return {
        "id": uid,
        "object": "user",
        "first_name": "Jane",
        "last_name": "Doe",
        "username": None,
        "external_id": None,
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {"id": f"idn_{i + 1}", "email_address": e} for i, e in enumerate(emails)
        ],
        "phone_numbers": [],
        "image_url": "https://img.clerk.com/x",
        "public_metadata": {},
        "private_metadata": {},
        "banned": False,
        "created_at": 1700000000000,
        "updated_at": 1700000000000,
        "last_sign_in_at": None,
        **fields,
    }


def app(recorder: Recorder) -> Starlette:
    def check(call):  # type: ignore[no-untyped-def]
        return gate(
            call,
            unauthorized=lambda: clerk_error(
                401,
                "authentication_invalid",
                "Invalid authentication",
                "Secret key is invalid or missing.",
            ),
            limited=lambda: clerk_error(
                429,
                "too_many_requests",
                "Too many requests",
                "Too many requests, retry later.",
                {"Retry-After": "10"},
            ),
        )

    async def users(request: Request) -> Response:
        call = await read(request, recorder, "clerk")
        if denied := check(call):
            return denied
        body = call.body or {}
        emails = body.get("email_address") or []
        if not isinstance(emails, list):
            return clerk_error(
                422, "form_param_format_invalid", "is invalid", "email_address must be an array"
            )
        if "taken@example.com" in emails:
            return clerk_error(
                422,
                "form_identifier_exists",
                "That email address is taken. Please try another.",
                "That email address is taken. Please try another.",
            )
        if not body.get("password") and not body.get("skip_password_requirement"):
            return clerk_error(
                422,
                "form_password_incorrect",
                "Password is required",
                "You must provide a password or skip_password_requirement.",
            )
        fields = {
            k: v
            for k, v in body.items()
            if k
            in (
                "first_name",
                "last_name",
                "username",
                "external_id",
                "public_metadata",
                "private_metadata",
            )
        }
        return JSONResponse(user("user_2abc", email_address=emails, **fields))

    async def one(request: Request) -> Response:
        call = await read(request, recorder, "clerk")
        if denied := check(call):
            return denied
        uid = request.path_params["uid"]
        if uid == "user_missing":
            return clerk_error(404, "resource_not_found", "not found", "Resource not found")
        if call.method == "DELETE":
            return JSONResponse({"id": uid, "object": "user", "deleted": True})
        if call.method == "PATCH":
            body = call.body or {}
            if "username" in body and len(body["username"]) < 4:
                return clerk_error(
                    422,
                    "form_username_invalid_length",
                    "is invalid",
                    "Username must be between 4 and 64 characters long.",
                )
            return JSONResponse(
                user(
                    uid,
                    **{
                        k: v
                        for k, v in body.items()
                        if k in ("first_name", "last_name", "username", "public_metadata")
                    },
                )
            )
        return JSONResponse(user(uid))

    return Starlette(
        routes=[
            Route("/v1/users", users, methods=["POST"]),
            Route("/v1/users/{uid}", one, methods=["GET", "PATCH", "DELETE"]),
        ]
    )
