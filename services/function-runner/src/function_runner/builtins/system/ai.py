"""``system/ai-complete``, ``system/ai-classify``, ``system/ai-extract`` over any
OpenAI-compatible chat completions API.

The API key comes from the ``openai`` credential (``apiKey``); its base URL is the
credential's ``baseUrl`` (user-supplied, so called through the SSRF guard), else
``FUNCTION_RUNNER_INTEGRATION_BASE_URLS["openai"]`` or ``FUNCTION_RUNNER_AI_BASE_URL``.
Classification and extraction force a tool call whose parameters are the wanted shape
(extraction can use JSON mode instead); the answer is checked against that shape.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.execute.validation import field_errors
from function_runner.executors.http import status_error

AI_INTEGRATION = "openai"


def _input_text(input: dict[str, Any]) -> str:
    for key in ("prompt", "text", "input", "body"):
        value = input.get(key)
        if value is not None and value != "":
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    raise FunctionError("give the text in 'prompt' or 'text'", code="validation")


async def chat(ctx: ExecutionContext, payload: dict[str, Any]) -> dict[str, Any]:
    key = ctx.credentials.get("apiKey") or ctx.credentials.get("api_key")
    if not key:
        raise FunctionError(
            "no API key for the AI provider: store an 'openai' credential with apiKey, or "
            "pass integrations.openai.apiKey with the run",
            code="auth",
        )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    user_base = ctx.credentials.get("baseUrl")
    timeout = 120.0
    if user_base:
        response = await ctx.safe_http.request(
            "POST",
            f"{user_base.rstrip('/')}/chat/completions",
            headers=headers,
            json=payload,
            timeout=timeout,
        )
    else:
        base = ctx.settings.integration_base_url(AI_INTEGRATION, ctx.settings.ai_base_url)
        try:
            response = await ctx.http.post(
                f"{base}/chat/completions", headers=headers, json=payload, timeout=timeout
            )
        except httpx.TimeoutException:
            raise FunctionError(
                "the AI provider timed out", code="timeout", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise FunctionError(
                f"the AI provider is unreachable: {type(exc).__name__}",
                code="upstream",
                retryable=True,
            ) from None
    if response.status_code >= 400:
        raise status_error(response.status_code, response.text, response.headers.get("retry-after"))
    try:
        body = response.json()
        choice = body["choices"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise FunctionError(
            "the AI provider answered without choices", code="upstream", retryable=True
        ) from None
    if not isinstance(body, dict) or not isinstance(choice, dict):
        raise FunctionError("the AI provider answered in an unknown shape", code="upstream")
    return body


def _usage(body: dict[str, Any]) -> dict[str, int]:
    usage = body.get("usage") or {}
    return {
        "inputTokens": int(usage.get("prompt_tokens", 0)),
        "outputTokens": int(usage.get("completion_tokens", 0)),
    }


def _base_payload(
    input: dict[str, Any], ctx: ExecutionContext, system: str | None
) -> dict[str, Any]:
    messages: list[dict[str, str]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": _input_text(input)})
    payload: dict[str, Any] = {
        "model": input.get("model") or ctx.settings.ai_default_model,
        "messages": messages,
        "temperature": input.get("temperature", 0),
    }
    if input.get("maxTokens"):
        payload["max_tokens"] = input["maxTokens"]
    return payload


def _tool_arguments(body: dict[str, Any], tool: str) -> dict[str, Any] | None:
    message = body["choices"][0].get("message") or {}
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        if function.get("name") == tool:
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                raise FunctionError(
                    f"the model's {tool} arguments are not JSON", code="upstream", retryable=True
                ) from None
            if isinstance(arguments, dict):
                return arguments
    return None


def _content(body: dict[str, Any]) -> str:
    message = body["choices"][0].get("message") or {}
    content = message.get("content")
    return content if isinstance(content, str) else ""


_MODEL_PROPS = {
    "model": {"type": "string", "description": "Model name (default from settings)"},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "maxTokens": {"type": "integer", "minimum": 1},
    "prompt": {"type": "string"},
    "text": {"type": "string"},
}


@builtin(
    slug="system/ai-complete",
    name="AI Complete",
    description="Text completion from an OpenAI-compatible chat model.",
    category="ai",
    integration_type=AI_INTEGRATION,
    input_schema={
        "type": "object",
        "properties": {
            **_MODEL_PROPS,
            "systemPrompt": {"type": "string"},
            "responseFormat": {"enum": ["text", "json"], "default": "text"},
        },
        "anyOf": [{"required": ["prompt"]}, {"required": ["text"]}],
    },
    output_schema={
        "type": "object",
        "properties": {"content": {"type": "string"}, "model": {"type": "string"}},
        "required": ["content"],
    },
    timeout_seconds=180,
)
async def ai_complete(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    payload = _base_payload(input, ctx, input.get("systemPrompt"))
    if input.get("responseFormat") == "json":
        payload["response_format"] = {"type": "json_object"}
    body = await chat(ctx, payload)
    return {
        "content": _content(body),
        "model": body.get("model", payload["model"]),
        "finishReason": body["choices"][0].get("finish_reason"),
        "usage": _usage(body),
    }


@builtin(
    slug="system/ai-classify",
    name="AI Classify",
    description="Classifies text into one of the given categories, with a confidence 0-1.",
    category="ai",
    integration_type=AI_INTEGRATION,
    input_schema={
        "type": "object",
        "properties": {
            **_MODEL_PROPS,
            "categories": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "instructions": {"type": "string"},
        },
        "required": ["categories"],
        "anyOf": [{"required": ["prompt"]}, {"required": ["text"]}],
    },
    output_schema={
        "type": "object",
        "properties": {
            "category": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "reasoning": {"type": "string"},
        },
        "required": ["category", "confidence"],
    },
    timeout_seconds=120,
)
async def ai_classify(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    categories = [str(c) for c in input["categories"]]
    system = (
        "Classify the user's text into exactly one of these categories: "
        + ", ".join(categories)
        + ". Call the classify tool."
        + (f" {input['instructions']}" if input.get("instructions") else "")
    )
    payload = _base_payload(input, ctx, system)
    payload["tools"] = [
        {
            "type": "function",
            "function": {
                "name": "classify",
                "description": "Report the category of the text.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "category": {"type": "string", "enum": categories},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                        "reasoning": {"type": "string"},
                    },
                    "required": ["category", "confidence"],
                },
            },
        }
    ]
    payload["tool_choice"] = {"type": "function", "function": {"name": "classify"}}
    body = await chat(ctx, payload)
    arguments = _tool_arguments(body, "classify")
    if arguments is None:
        answer = _content(body).strip()
        matches = [c for c in categories if c.lower() == answer.lower()]
        arguments = {"category": matches[0], "confidence": 1.0} if matches else {}
    category = arguments.get("category")
    if category not in categories:
        raise FunctionError(
            f"the model answered category {category!r}, which is not one of {categories}",
            code="upstream",
            retryable=True,
        )
    try:
        confidence = min(max(float(arguments.get("confidence", 1.0)), 0.0), 1.0)
    except (TypeError, ValueError):
        confidence = 0.0
    return {
        "category": category,
        "confidence": confidence,
        "reasoning": str(arguments.get("reasoning", "")),
        "model": body.get("model", payload["model"]),
        "usage": _usage(body),
    }


@builtin(
    slug="system/ai-extract",
    name="AI Extract",
    description="Extracts an object matching a JSON Schema from text (tool calling, or JSON "
    "mode with method=json). The step's data is the extracted object.",
    category="ai",
    integration_type=AI_INTEGRATION,
    input_schema={
        "type": "object",
        "properties": {
            **_MODEL_PROPS,
            "schema": {"type": "object", "description": "JSON Schema of the result"},
            "method": {"enum": ["tool", "json"], "default": "tool"},
            "instructions": {"type": "string"},
        },
        "required": ["schema"],
        "anyOf": [{"required": ["prompt"]}, {"required": ["text"]}],
    },
    output_schema={"type": "object"},
    timeout_seconds=180,
)
async def ai_extract(input: dict[str, Any], ctx: ExecutionContext) -> Any:
    schema = input["schema"]
    method = input.get("method", "tool")
    system = "Extract the requested fields from the user's text." + (
        f" {input['instructions']}" if input.get("instructions") else ""
    )
    if method == "json":
        system += " Answer with one JSON object matching this JSON Schema: " + json.dumps(schema)
    payload = _base_payload(input, ctx, system)
    if method == "json":
        payload["response_format"] = {"type": "json_object"}
    else:
        payload["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "extract",
                    "description": "Return the extracted fields.",
                    "parameters": schema,
                },
            }
        ]
        payload["tool_choice"] = {"type": "function", "function": {"name": "extract"}}
    body = await chat(ctx, payload)
    extracted = _tool_arguments(body, "extract") if method == "tool" else None
    if extracted is None:
        try:
            loaded = json.loads(_content(body) or "null")
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise FunctionError(
                "the model did not return a JSON object", code="upstream", retryable=True
            )
        extracted = loaded
    errors = field_errors(schema, extracted)
    if errors:
        raise FunctionError(
            f"the extracted object does not match the schema: {errors[0]['message']} at {errors[0]['field']}",
            code="upstream",
            retryable=True,
            details={"errors": errors},
        )
    return extracted
