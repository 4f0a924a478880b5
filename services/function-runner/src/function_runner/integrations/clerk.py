"""Clerk Backend API: get, create, update and delete users.

Credentials (integration ``clerk``): ``secretKey`` (``sk_live_...`` / ``sk_test_...``; also
``apiKey`` or ``CLERK_SECRET_KEY``), sent as ``Bearer``. Clerk's errors
(``{"errors": [{"message", "long_message", "code"}]}``) keep their long message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, string_list, text_field

CLERK = Vendor(
    "clerk", "Clerk", "https://api.clerk.com/v1", ("secretKey", "apiKey", "CLERK_SECRET_KEY")
)
USER_ID = text_field("User", "Clerk user id (user_...).", minLength=1)
METADATA = {"type": "object", "description": "Arbitrary JSON."}
USER = schema(
    {
        "id": {"type": "string"},
        "firstName": {"type": ["string", "null"]},
        "lastName": {"type": ["string", "null"]},
        "username": {"type": ["string", "null"]},
        "externalId": {"type": ["string", "null"]},
        "primaryEmailAddress": {"type": ["string", "null"]},
        "emailAddresses": {"type": "array", "items": {"type": "string"}},
        "phoneNumbers": {"type": "array", "items": {"type": "string"}},
        "imageUrl": {"type": ["string", "null"]},
        "publicMetadata": {"type": "object"},
        "privateMetadata": {"type": "object"},
        "banned": {"type": "boolean"},
        "createdAt": {"type": "integer"},
        "updatedAt": {"type": "integer"},
        "lastSignInAt": {"type": ["integer", "null"]},
    },
    ("id",),
)
PROFILE = {
    "firstName": text_field("First name", "Given name."),
    "lastName": text_field("Last name", "Family name."),
    "username": text_field("Username", "Unique username (if usernames are enabled)."),
    "externalId": text_field("External id", "Your system's id for this user."),
    "password": text_field(
        "Password", "Initial password (at least 8 characters).", minLength=8, writeOnly=True
    ),
    "publicMetadata": {**METADATA, "title": "Public metadata"},
    "privateMetadata": {**METADATA, "title": "Private metadata"},
    "unsafeMetadata": {**METADATA, "title": "Unsafe metadata"},
}
_FIELDS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "username": "username",
    "externalId": "external_id",
    "password": "password",
    "publicMetadata": "public_metadata",
    "privateMetadata": "private_metadata",
    "unsafeMetadata": "unsafe_metadata",
}


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {CLERK.secret(ctx)}"}


def user(data: dict[str, Any]) -> dict[str, Any]:
    emails = data.get("email_addresses") or []
    primary = next(
        (
            e.get("email_address")
            for e in emails
            if e.get("id") == data.get("primary_email_address_id")
        ),
        None,
    )
    return {
        "id": data.get("id"),
        "firstName": data.get("first_name"),
        "lastName": data.get("last_name"),
        "username": data.get("username"),
        "externalId": data.get("external_id"),
        "primaryEmailAddress": primary,
        "emailAddresses": [e.get("email_address") for e in emails],
        "phoneNumbers": [p.get("phone_number") for p in data.get("phone_numbers") or []],
        "imageUrl": data.get("image_url"),
        "publicMetadata": data.get("public_metadata") or {},
        "privateMetadata": data.get("private_metadata") or {},
        "banned": bool(data.get("banned")),
        "createdAt": data.get("created_at"),
        "updatedAt": data.get("updated_at"),
        "lastSignInAt": data.get("last_sign_in_at"),
    }


def _profile(input: dict[str, Any]) -> dict[str, Any]:
    return {field: input[key] for key, field in _FIELDS.items() if input.get(key) is not None}


def _user_path(input: dict[str, Any]) -> str:
    return f"/users/{quote(input['userId'], safe='')}"


@builtin(
    slug="clerk/get-user",
    name="Get User",
    description="Read a Clerk user.",
    category="Clerk",
    integration_type="clerk",
    input_schema=schema({"userId": USER_ID}, ("userId",)),
    output_schema=USER,
)
async def get_user(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    response = await CLERK.request(ctx, "GET", _user_path(input), headers=_headers(ctx))
    return user(CLERK.json(response))


@builtin(
    slug="clerk/create-user",
    name="Create User",
    description="Create a Clerk user.",
    category="Clerk",
    integration_type="clerk",
    input_schema=schema(
        {
            "emailAddress": {
                "type": ["array", "string"],
                "title": "Email addresses",
                "description": "The first one becomes the primary address.",
                "items": {"type": "string"},
            },
            "phoneNumber": {
                "type": ["array", "string"],
                "title": "Phone numbers",
                "description": "E.164 numbers.",
                "items": {"type": "string"},
            },
            **PROFILE,
            "skipPasswordRequirement": {
                "type": "boolean",
                "title": "No password",
                "description": "Create the user without a password (default when none is given).",
            },
        }
    ),
    output_schema=USER,
)
async def create_user(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body = _profile(input)
    emails = string_list(input.get("emailAddress"))
    phones = string_list(input.get("phoneNumber"))
    if not emails and not phones and not input.get("username") and not input.get("externalId"):
        raise FunctionError(
            "give the user an emailAddress, phoneNumber, username or externalId", code="validation"
        )
    if emails:
        body["email_address"] = emails
    if phones:
        body["phone_number"] = phones
    body["skip_password_requirement"] = input.get(
        "skipPasswordRequirement", "password" not in input
    )
    response = await CLERK.request(ctx, "POST", "/users", headers=_headers(ctx), json=body)
    return user(CLERK.json(response))


@builtin(
    slug="clerk/update-user",
    name="Update User",
    description="Change a Clerk user's profile or metadata.",
    category="Clerk",
    integration_type="clerk",
    input_schema=schema({"userId": USER_ID, **PROFILE}, ("userId",)),
    output_schema=USER,
)
async def update_user(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body = _profile(input)
    if not body:
        raise FunctionError("nothing to update: give at least one field", code="validation")
    response = await CLERK.request(
        ctx, "PATCH", _user_path(input), headers=_headers(ctx), json=body
    )
    return user(CLERK.json(response))


@builtin(
    slug="clerk/delete-user",
    name="Delete User",
    description="Delete a Clerk user.",
    category="Clerk",
    integration_type="clerk",
    input_schema=schema({"userId": USER_ID}, ("userId",)),
    output_schema=schema(
        {"id": {"type": "string"}, "deleted": {"type": "boolean"}}, ("id", "deleted")
    ),
)
async def delete_user(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    response = await CLERK.request(ctx, "DELETE", _user_path(input), headers=_headers(ctx))
    data = CLERK.json(response)
    return {"id": data.get("id", input["userId"]), "deleted": bool(data.get("deleted"))}
