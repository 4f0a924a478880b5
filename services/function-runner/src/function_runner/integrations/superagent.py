"""Superagent: ``superagent/guard`` (prompt-injection / unsafe content check) and
``superagent/redact`` (remove PII and secrets from text).

Credentials (integration ``superagent``): ``apiKey`` (also ``SUPERAGENT_API_KEY``), sent
as ``Bearer``. Guard does not fail on a blocked text: it returns
``classification: "block"`` (``allowed: false``) for a condition node to route on.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, string_list, text_field

SUPERAGENT = Vendor(
    "superagent", "Superagent", "https://app.superagent.sh/api", ("apiKey", "SUPERAGENT_API_KEY")
)
TEXT = text_field("Text", "The text to check.", minLength=1, **{"x-ui-widget": "textarea"})


async def _message(ctx: ExecutionContext, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await SUPERAGENT.request(
        ctx, "POST", path, headers={"Authorization": f"Bearer {SUPERAGENT.secret(ctx)}"}, json=body
    )
    data = SUPERAGENT.json(response)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0].get("message"), dict):
        raise FunctionError("Superagent answered without a result", code="upstream", retryable=True)
    message: dict[str, Any] = choices[0]["message"]
    return message


@builtin(
    slug="superagent/guard",
    name="Guard",
    description="Classify text as safe to pass on to an AI agent (allow) or not (block).",
    category="Superagent",
    integration_type="superagent",
    input_schema=schema({"text": TEXT}, ("text",)),
    output_schema=schema(
        {
            "classification": {"type": "string", "enum": ["allow", "block"]},
            "allowed": {"type": "boolean"},
            "violationTypes": {"type": "array", "items": {"type": "string"}},
            "cweCodes": {"type": "array", "items": {"type": "string"}},
            "reasoning": {"type": ["string", "null"]},
        },
        ("classification", "allowed"),
    ),
)
async def guard(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    message = await _message(ctx, "/guard", {"text": input["text"]})
    content = message.get("content")
    classification = content.get("classification") if isinstance(content, dict) else None
    if classification not in ("allow", "block") or not isinstance(content, dict):
        raise FunctionError(
            f"Superagent returned no valid classification ({classification!r})",
            code="upstream",
            retryable=True,
        )
    return {
        "classification": classification,
        "allowed": classification == "allow",
        "violationTypes": list(content.get("violation_types") or []),
        "cweCodes": list(content.get("cwe_codes") or []),
        "reasoning": message.get("reasoning"),
    }


@builtin(
    slug="superagent/redact",
    name="Redact",
    description="Replace personal data and secrets in text with placeholders.",
    category="Superagent",
    integration_type="superagent",
    input_schema=schema(
        {
            "text": TEXT,
            "entities": {
                "type": ["array", "string"],
                "title": "Entities",
                "description": "What to redact, e.g. email, phone, SSN (default: everything sensitive).",
                "items": {"type": "string"},
            },
        },
        ("text",),
    ),
    output_schema=schema(
        {"redactedText": {"type": "string"}, "reasoning": {"type": ["string", "null"]}},
        ("redactedText",),
    ),
)
async def redact(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {"text": input["text"]}
    if entities := string_list(input.get("entities")):
        body["entities"] = entities
    message = await _message(ctx, "/redact", body)
    content = message.get("content")
    if not isinstance(content, str):
        raise FunctionError("Superagent returned no redacted text", code="upstream", retryable=True)
    return {"redactedText": content, "reasoning": message.get("reasoning")}
