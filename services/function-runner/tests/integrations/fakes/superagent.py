"""Superagent: POST /api/guard and /api/redact."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read


def app(recorder: Recorder) -> Starlette:
    async def checked(request: Request) -> tuple[Response | None, dict]:
        call = await read(request, recorder, "superagent")
        denied = gate(
            call,
            unauthorized=lambda: error(401, {"error": "Invalid API key"}),
            limited=lambda: error(429, {"error": "Too many requests"}, {"retry-after": "3"}),
        )
        body = call.body or {}
        if denied is None and not str(body.get("text", "")).strip():
            denied = error(400, {"error": "text is required"})
        return denied, body

    async def guard(request: Request) -> Response:
        denied, body = await checked(request)
        if denied:
            return denied
        bad = "ignore previous instructions" in body["text"].lower()
        content = {
            "classification": "block" if bad else "allow",
            "violation_types": ["prompt_injection"] if bad else [],
            "cwe_codes": ["CWE-77"] if bad else [],
        }
        return JSONResponse(
            {
                "id": "g1",
                "choices": [
                    {"message": {"role": "assistant", "content": content, "reasoning": "checked"}}
                ],
            }
        )

    async def redact(request: Request) -> Response:
        denied, body = await checked(request)
        if denied:
            return denied
        text = re.sub(r"[\w.+-]+@[\w-]+\.[\w.]+", "<REDACTED_EMAIL>", body["text"])
        if "ssn" in [e.lower() for e in body.get("entities") or ["ssn"]]:
            text = re.sub(r"\d{3}-\d{2}-\d{4}", "<REDACTED_SSN>", text)
        return JSONResponse(
            {
                "id": "r1",
                "choices": [
                    {"message": {"role": "assistant", "content": text, "reasoning": "redacted"}}
                ],
            }
        )

    return Starlette(
        routes=[
            Route("/api/guard", guard, methods=["POST"]),
            Route("/api/redact", redact, methods=["POST"]),
        ]
    )
