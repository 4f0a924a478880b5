"""OpenAI: ``openai/generate-text`` (chat completions) and ``openai/generate-image``.

Credentials (integration ``openai``): ``apiKey`` (or ``OPENAI_API_KEY``); optional
``organization`` and ``project`` become ``OpenAI-Organization`` / ``OpenAI-Project``.
"""

from __future__ import annotations

import json
from typing import Any

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, text_field

OPENAI = Vendor("openai", "OpenAI", "https://api.openai.com/v1", ("apiKey", "OPENAI_API_KEY"))
TEXT_MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4-turbo", "o1", "o3-mini"]
IMAGE_MODELS = ["dall-e-3", "dall-e-2", "gpt-image-1"]
USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {OPENAI.secret(ctx)}"}
    if org := OPENAI.optional(ctx, "organization", "OPENAI_ORGANIZATION"):
        headers["OpenAI-Organization"] = org
    if project := OPENAI.optional(ctx, "project", "OPENAI_PROJECT"):
        headers["OpenAI-Project"] = project
    return headers


def _schema_of(value: Any) -> dict[str, Any] | None:
    """The object schema the builder's schema field gives: a JSON Schema object or its JSON."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise FunctionError("aiSchema is not valid JSON", code="validation") from None
    if not isinstance(value, dict):
        raise FunctionError("aiSchema must be a JSON Schema object", code="validation")
    return value


@builtin(
    slug="openai/generate-text",
    name="Generate Text",
    description="Generate text (or a JSON object) with an OpenAI chat model.",
    category="OpenAI",
    integration_type="openai",
    input_schema=schema(
        {
            "aiPrompt": text_field(
                "Prompt",
                "What the model should write. Use {{NodeName.field}} to insert earlier outputs.",
                minLength=1,
                **{"x-ui-widget": "textarea"},
            ),
            "aiModel": {
                "type": "string",
                "title": "Model",
                "description": "OpenAI model id.",
                "default": "gpt-4o",
                "examples": TEXT_MODELS,
            },
            "aiFormat": {
                "type": "string",
                "title": "Output format",
                "description": "Plain text, or a JSON object (optionally matching a schema).",
                "enum": ["text", "object"],
                "default": "text",
            },
            "aiSchema": {
                "title": "Schema",
                "description": "JSON Schema of the object to return (format 'object').",
                "type": ["object", "string"],
            },
            "systemPrompt": text_field("System prompt", "Instructions given before the prompt."),
            "temperature": {
                "type": "number",
                "title": "Temperature",
                "description": "Sampling temperature, 0 to 2.",
                "minimum": 0,
                "maximum": 2,
            },
            "maxTokens": {
                "type": "integer",
                "title": "Max tokens",
                "description": "Upper bound of generated tokens.",
                "minimum": 1,
            },
        },
        ("aiPrompt",),
    ),
    output_schema=schema(
        {
            "text": {"type": "string", "description": "The generated text."},
            "object": {"description": "The parsed object (format 'object')."},
            "model": {"type": "string"},
            "finishReason": {"type": ["string", "null"]},
            "usage": USAGE,
        },
        ("text", "model"),
    ),
)
async def generate_text(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    as_object = input.get("aiFormat", "text") == "object"
    messages: list[dict[str, str]] = []
    system = input.get("systemPrompt")
    if as_object:
        system = (
            f"{system}\n\nRespond with a JSON object." if system else "Respond with a JSON object."
        )
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": input["aiPrompt"]})
    body: dict[str, Any] = {"model": input.get("aiModel") or "gpt-4o", "messages": messages}
    if "temperature" in input:
        body["temperature"] = input["temperature"]
    if "maxTokens" in input:
        body["max_completion_tokens"] = input["maxTokens"]
    if as_object:
        object_schema = _schema_of(input.get("aiSchema"))
        body["response_format"] = (
            {
                "type": "json_schema",
                "json_schema": {"name": "result", "schema": object_schema, "strict": False},
            }
            if object_schema
            else {"type": "json_object"}
        )
    response = await OPENAI.request(
        ctx, "POST", "/chat/completions", headers=_headers(ctx), json=body
    )
    data = OPENAI.json(response)
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    if message.get("refusal"):
        raise FunctionError(f"OpenAI refused: {message['refusal']}", code="validation")
    text = message.get("content") or ""
    out: dict[str, Any] = {
        "text": text,
        "model": data.get("model", body["model"]),
        "finishReason": choice.get("finish_reason"),
        "usage": data.get("usage") or {},
    }
    if as_object:
        try:
            out["object"] = json.loads(text)
        except ValueError:
            raise FunctionError(
                "OpenAI did not return valid JSON for format 'object'",
                code="upstream",
                retryable=True,
            ) from None
    return out


@builtin(
    slug="openai/generate-image",
    name="Generate Image",
    description="Generate an image from a prompt with DALL-E or gpt-image-1.",
    category="OpenAI",
    integration_type="openai",
    input_schema=schema(
        {
            "imagePrompt": text_field(
                "Prompt",
                "Describe the image to generate.",
                minLength=1,
                **{"x-ui-widget": "textarea"},
            ),
            "imageModel": {
                "type": "string",
                "title": "Model",
                "description": "Image model.",
                "enum": IMAGE_MODELS,
                "default": "dall-e-3",
            },
            "imageSize": {
                "type": "string",
                "title": "Size",
                "description": "Width x height in pixels.",
                "enum": [
                    "1024x1024",
                    "1792x1024",
                    "1024x1792",
                    "1536x1024",
                    "1024x1536",
                    "512x512",
                    "256x256",
                ],
                "default": "1024x1024",
            },
            "imageQuality": {
                "type": "string",
                "title": "Quality",
                "description": "dall-e-3: standard or hd; gpt-image-1: low, medium, high.",
                "enum": ["standard", "hd", "low", "medium", "high", "auto"],
            },
        },
        ("imagePrompt",),
    ),
    output_schema=schema(
        {
            "base64": {"type": "string", "description": "Base64-encoded PNG."},
            "revisedPrompt": {"type": ["string", "null"]},
            "model": {"type": "string"},
        },
        ("base64",),
    ),
)
async def generate_image(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    model = input.get("imageModel") or "dall-e-3"
    body: dict[str, Any] = {
        "model": model,
        "prompt": input["imagePrompt"],
        "n": 1,
        "size": input.get("imageSize") or "1024x1024",
    }
    if model != "gpt-image-1":
        body["response_format"] = "b64_json"  # gpt-image-1 always answers base64
    if input.get("imageQuality"):
        body["quality"] = input["imageQuality"]
    response = await OPENAI.request(
        ctx, "POST", "/images/generations", headers=_headers(ctx), json=body
    )
    images = OPENAI.json(response).get("data") or []
    if not images or not images[0].get("b64_json"):
        raise FunctionError("OpenAI returned no image", code="upstream", retryable=True)
    return {
        "base64": images[0]["b64_json"],
        "revisedPrompt": images[0].get("revised_prompt"),
        "model": model,
    }
