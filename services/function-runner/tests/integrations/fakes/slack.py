"""Slack Web API: POST /api/chat.postMessage (errors are HTTP 200 with ok:false)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

BLOCK_TYPES = {"section", "divider", "header", "context", "actions", "image", "rich_text", "input"}


def app(recorder: Recorder) -> Starlette:
    async def post_message(request: Request) -> Response:
        call = await read(request, recorder, "slack")
        denied = gate(
            call,
            unauthorized=lambda: JSONResponse({"ok": False, "error": "invalid_auth"}),
            limited=lambda: error(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}
            ),
        )
        if denied:
            return denied
        if not call.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"ok": False, "error": "invalid_form_data"})
        body = call.body or {}
        if not body.get("channel"):
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if body["channel"] == "#private":
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        if not body.get("text") and not body.get("blocks"):
            return JSONResponse({"ok": False, "error": "no_text"})
        if any(b.get("type") not in BLOCK_TYPES for b in body.get("blocks") or []):
            return JSONResponse(
                {"ok": False, "error": "invalid_blocks", "errors": ["unsupported type"]}
            )
        return JSONResponse(
            {
                "ok": True,
                "channel": "C024BE91L",
                "ts": "1503435956.000247",
                "message": {
                    "type": "message",
                    "text": body.get("text"),
                    "user": "U0BOT",
                    "ts": "1503435956.000247",
                    "bot_id": "B123",
                },
            }
        )

    return Starlette(routes=[Route("/api/chat.postMessage", post_message, methods=["POST"])])
