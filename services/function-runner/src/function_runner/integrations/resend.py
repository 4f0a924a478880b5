"""Resend: ``resend/send-email`` (``POST /emails``).

Credentials (integration ``resend``): ``apiKey`` (``re_...``; also ``RESEND_API_KEY``).
Each node of an execution sends with the same ``Idempotency-Key``, so a retried step does
not send the email twice.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import (
    Vendor,
    idempotency_key,
    schema,
    string_list,
    text_field,
)

RESEND = Vendor("resend", "Resend", "https://api.resend.com", ("apiKey", "RESEND_API_KEY"))
ADDRESSES = {
    "type": ["string", "array"],
    "items": {"type": "string"},
    "description": "One address, a comma-separated list, or a list (at most 50).",
}


@builtin(
    slug="resend/send-email",
    name="Send Email",
    description="Send an email through Resend.",
    category="Resend",
    integration_type="resend",
    input_schema=schema(
        {
            "from": text_field(
                "From", "Sender, e.g. 'Acme <hello@acme.com>' (a verified domain).", minLength=3
            ),
            "to": {**ADDRESSES, "title": "To", "minLength": 3},
            "subject": text_field("Subject", "Subject line.", minLength=1),
            "text": text_field("Text", "Plain-text body.", **{"x-ui-widget": "textarea"}),
            "html": text_field("HTML", "HTML body.", **{"x-ui-widget": "textarea"}),
            "cc": {**ADDRESSES, "title": "Cc"},
            "bcc": {**ADDRESSES, "title": "Bcc"},
            "replyTo": {**ADDRESSES, "title": "Reply to"},
            "tags": {
                "type": "object",
                "title": "Tags",
                "description": "Name -> value tags (ASCII letters, digits, _ and -).",
                "additionalProperties": {"type": "string"},
            },
        },
        ("from", "to", "subject"),
    ),
    output_schema=schema({"id": {"type": "string", "description": "The email's id."}}, ("id",)),
)
async def send_email(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    if not input.get("text") and not input.get("html"):
        raise FunctionError("give the email a 'text' or an 'html' body", code="validation")
    body: dict[str, Any] = {
        "from": input["from"],
        "to": string_list(input["to"]),
        "subject": input["subject"],
    }
    for key, field in (("text", "text"), ("html", "html")):
        if input.get(key):
            body[field] = input[key]
    for key, field in (("cc", "cc"), ("bcc", "bcc"), ("replyTo", "reply_to")):
        if addresses := string_list(input.get(key)):
            body[field] = addresses
    if input.get("tags"):
        body["tags"] = [{"name": k, "value": v} for k, v in input["tags"].items()]
    response = await RESEND.request(
        ctx,
        "POST",
        "/emails",
        headers={
            "Authorization": f"Bearer {RESEND.secret(ctx)}",
            "Idempotency-Key": idempotency_key(ctx, "resend/send-email"),
        },
        json=body,
    )
    return {"id": RESEND.json(response).get("id")}
