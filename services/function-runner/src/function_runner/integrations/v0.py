"""v0 Platform API: ``v0/create-chat`` and ``v0/send-message`` (generate apps with v0).

Credentials (integration ``v0``): ``apiKey`` (also ``V0_API_KEY``), sent as ``Bearer``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from function_runner.builtins.base import ExecutionContext, builtin
from function_runner.integrations._common import Vendor, schema, text_field

V0 = Vendor("v0", "v0", "https://api.v0.dev/v1", ("apiKey", "V0_API_KEY"))
CHAT = schema(
    {
        "chatId": {"type": "string"},
        "url": {"type": ["string", "null"], "description": "The chat on v0.dev."},
        "demoUrl": {
            "type": ["string", "null"],
            "description": "Live preview of the latest version.",
        },
        "versionId": {"type": ["string", "null"]},
        "status": {"type": ["string", "null"]},
        "files": {"type": "array", "items": {"type": "object"}},
        "text": {"type": ["string", "null"], "description": "v0's latest reply."},
    },
    ("chatId",),
)
MESSAGE = text_field(
    "Message", "What v0 should build or change.", minLength=1, **{"x-ui-widget": "textarea"}
)


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {V0.secret(ctx)}"}


def chat(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("latestVersion") or {}
    replies = [m for m in data.get("messages") or [] if m.get("role") == "assistant"]
    return {
        "chatId": data.get("id") or data.get("chatId"),
        "url": data.get("webUrl") or data.get("url"),
        "demoUrl": version.get("demoUrl") or data.get("demo"),
        "versionId": version.get("id"),
        "status": version.get("status"),
        "files": [
            {"name": f.get("name"), "content": f.get("content")} for f in version.get("files") or []
        ],
        "text": replies[-1].get("content") if replies else data.get("text"),
    }


@builtin(
    slug="v0/create-chat",
    name="Create Chat",
    description="Start a v0 chat that generates an app or component from a prompt.",
    category="v0",
    integration_type="v0",
    timeout_seconds=600,
    input_schema=schema(
        {
            "message": MESSAGE,
            "system": text_field("System", "Context for v0: framework, style, constraints."),
            "chatPrivacy": {
                "type": "string",
                "title": "Privacy",
                "enum": ["private", "public", "team", "team-edit", "unlisted"],
                "default": "private",
            },
            "projectId": text_field("Project", "v0 project to create the chat in."),
        },
        ("message",),
    ),
    output_schema=CHAT,
)
async def create_chat(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message": input["message"],
        "chatPrivacy": input.get("chatPrivacy", "private"),
    }
    for key in ("system", "projectId"):
        if input.get(key):
            body[key] = input[key]
    response = await V0.request(ctx, "POST", "/chats", headers=_headers(ctx), json=body)
    return chat(V0.json(response))


@builtin(
    slug="v0/send-message",
    name="Send Message",
    description="Send a follow-up message to a v0 chat.",
    category="v0",
    integration_type="v0",
    timeout_seconds=600,
    input_schema=schema(
        {"chatId": text_field("Chat", "The chat's id.", minLength=1), "message": MESSAGE},
        ("chatId", "message"),
    ),
    output_schema=CHAT,
)
async def send_message(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    path = f"/chats/{quote(input['chatId'], safe='')}/messages"
    response = await V0.request(
        ctx, "POST", path, headers=_headers(ctx), json={"message": input["message"]}
    )
    result = chat(V0.json(response))
    result["chatId"] = result["chatId"] or input["chatId"]
    return result
