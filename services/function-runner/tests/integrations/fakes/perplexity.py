"""Perplexity: POST /chat/completions (Sonar models)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

MODELS = {"sonar", "sonar-pro", "sonar-reasoning", "sonar-reasoning-pro", "sonar-deep-research"}


def app(recorder: Recorder) -> Starlette:
    async def completions(request: Request) -> Response:
        call = await read(request, recorder, "perplexity")
        denied = gate(
            call,
            unauthorized=lambda: error(
                401,
                {
                    "error": {
                        "message": "Invalid API key provided.",
                        "type": "invalid_api_key",
                        "code": 401,
                    }
                },
            ),
            limited=lambda: error(
                429,
                {
                    "error": {
                        "message": "Rate limit exceeded",
                        "type": "rate_limit_exceeded",
                        "code": 429,
                    }
                },
                {"retry-after": "2"},
            ),
        )
        if denied:
            return denied
        body = call.body or {}
        if body.get("model") not in MODELS:
            return error(
                400,
                {
                    "error": {
                        "message": f"Invalid model '{body.get('model')}'. Permitted models can be found in the documentation.",
                        "type": "invalid_model",
                        "code": 400,
                    }
                },
            )
        if not body.get("messages") or body["messages"][-1].get("role") != "user":
            return error(
                400,
                {
                    "error": {
                        "message": "Last message must have role `user`.",
                        "type": "invalid_message",
                        "code": 400,
                    }
                },
            )
        return JSONResponse(
            {
                "id": "pplx-1",
                "model": body["model"],
                "object": "chat.completion",
                "created": 1700000000,
                "citations": ["https://docs.dapr.io/", "https://kubernetes.io/"],
                "search_results": [
                    {"title": "Dapr docs", "url": "https://docs.dapr.io/", "date": "2026-01-01"}
                ],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": "Dapr is a portable runtime [1].",
                        },
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
            }
        )

    return Starlette(routes=[Route("/chat/completions", completions, methods=["POST"])])
