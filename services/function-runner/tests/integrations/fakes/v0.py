"""v0 Platform API: POST /v1/chats and /v1/chats/{id}/messages."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read


def chat(cid: str, message: str) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat",
        "webUrl": f"https://v0.dev/chat/{cid}",
        "latestVersion": {
            "id": "ver_1",
            "status": "completed",
            "demoUrl": f"https://demo-{cid}.vusercontent.net",
            "files": [{"name": "app/page.tsx", "content": "export default function Page() {}"}],
        },
        "messages": [
            {"id": "msg_1", "role": "user", "content": message},
            {"id": "msg_2", "role": "assistant", "content": "Here is your app."},
        ],
    }


def app(recorder: Recorder) -> Starlette:
    def check(call):  # type: ignore[no-untyped-def]
        return gate(
            call,
            unauthorized=lambda: error(
                401, {"error": {"message": "Invalid API key", "type": "unauthorized_error"}}
            ),
            limited=lambda: error(
                429,
                {"error": {"message": "Rate limit exceeded", "type": "rate_limit_error"}},
                {"retry-after": "4"},
            ),
        )

    async def chats(request: Request) -> Response:
        call = await read(request, recorder, "v0")
        if denied := check(call):
            return denied
        body = call.body or {}
        if not body.get("message"):
            return error(
                400, {"error": {"message": "message: Required", "type": "validation_error"}}
            )
        if body.get("projectId") == "bad":
            return error(
                400,
                {"error": {"message": "projectId: Invalid project id", "type": "validation_error"}},
            )
        return JSONResponse(chat("chat_abc", body["message"]))

    async def messages(request: Request) -> Response:
        call = await read(request, recorder, "v0")
        if denied := check(call):
            return denied
        cid = request.path_params["cid"]
        if cid == "missing":
            return error(404, {"error": {"message": "Chat not found", "type": "not_found_error"}})
        return JSONResponse(chat(cid, (call.body or {}).get("message", "")))

    return Starlette(
        routes=[
            Route("/v1/chats", chats, methods=["POST"]),
            Route("/v1/chats/{cid}/messages", messages, methods=["POST"]),
        ]
    )
