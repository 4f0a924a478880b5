"""OpenAI: POST /v1/chat/completions and /v1/images/generations."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def _err(status: int, message: str, type_: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def app(recorder: Recorder) -> Starlette:
    def checks(call) -> Response | None:  # type: ignore[no-untyped-def]
        return gate(
            call,
            unauthorized=lambda: error(
                401,
                _err(
                    401,
                    f"Incorrect API key provided: {call.headers.get('authorization', '')[7:]}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            ),
            limited=lambda: error(
                429,
                _err(
                    429,
                    "Rate limit reached for gpt-4o on requests per min (RPM): Limit 500.",
                    "requests",
                    "rate_limit_exceeded",
                ),
                {"x-ratelimit-reset-requests": "1m30s", "x-ratelimit-reset-tokens": "20s"},
            ),
        )

    async def chat(request: Request) -> Response:
        call = await read(request, recorder, "openai")
        if denied := checks(call):
            return denied
        body = call.body or {}
        if "json" not in call.headers.get("content-type", ""):
            return error(
                400,
                _err(
                    400,
                    "We could not parse the JSON body of your request.",
                    "invalid_request_error",
                ),
            )
        if not body.get("model") or not body.get("messages"):
            return error(
                400, _err(400, "you must provide a model parameter", "invalid_request_error")
            )
        fmt = body.get("response_format") or {}
        if (
            fmt.get("type") == "json_schema"
            and fmt["json_schema"]["schema"].get("type") != "object"
        ):
            return error(
                400,
                _err(
                    400,
                    "Invalid schema for response_format 'result': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"string\"'.",
                    "invalid_request_error",
                    "invalid_json_schema",
                ),
            )
        content = json.dumps({"summary": "ok", "items": [1, 2]}) if fmt else "Clouds drift softly"
        return JSONResponse(
            {
                "id": "chatcmpl-abc",
                "object": "chat.completion",
                "created": 1700000000,
                "model": body["model"] + "-2024-08-06",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            }
        )

    async def images(request: Request) -> Response:
        call = await read(request, recorder, "openai")
        if denied := checks(call):
            return denied
        body = call.body or {}
        if not body.get("prompt"):
            return error(400, _err(400, "'prompt' is a required property", "invalid_request_error"))
        if body.get("model") == "gpt-image-1" and "response_format" in body:
            return error(
                400,
                _err(
                    400,
                    "Unknown parameter: 'response_format'.",
                    "invalid_request_error",
                    "unknown_parameter",
                ),
            )
        return JSONResponse(
            {
                "created": 1700000000,
                "data": [{"b64_json": PNG_B64, "revised_prompt": "A red square"}],
            }
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/images/generations", images, methods=["POST"]),
        ]
    )
