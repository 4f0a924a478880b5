"""fal queue API: POST /{model}, GET /{owner}/{app}/requests/{id}/status and /{id}."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

SIZES = {"square", "square_hd", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9"}
MEDIA = "https://v3.fal.media/files/rabbit"


def result_for(model: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if "video" in model:
        return {"video": {"url": f"{MEDIA}/out.mp4", "content_type": "video/mp4"}}
    if "upscaler" in model or "rembg" in model or "esrgan" in model or "birefnet" in model:
        return {
            "image": {
                "url": f"{MEDIA}/out.png",
                "width": 2048,
                "height": 2048,
                "content_type": "image/png",
            }
        }
    images = [
        {"url": f"{MEDIA}/{i}.jpg", "width": 1024, "height": 768, "content_type": "image/jpeg"}
        for i in range(arguments.get("num_images", 1))
    ]
    return {"images": images, "seed": 42, "prompt": arguments.get("prompt")}


def app(recorder: Recorder) -> Starlette:
    requests: dict[str, dict[str, Any]] = {}

    def check(call):  # type: ignore[no-untyped-def]
        return gate(
            call,
            scheme="Key",
            unauthorized=lambda: error(
                401, {"detail": "Authentication is required to access this resource"}
            ),
            limited=lambda: error(429, {"detail": "Rate limit exceeded"}, {"retry-after": "5"}),
        )

    async def submit(request: Request) -> Response:
        call = await read(request, recorder, "fal")
        if denied := check(call):
            return denied
        model = request.path_params["model"]
        arguments = call.body or {}
        if "image_size" in arguments and arguments["image_size"] not in SIZES:
            return error(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "image_size"],
                            "msg": f"value is not a valid enumeration member; permitted: {sorted(SIZES)}",
                            "type": "type_error.enum",
                        }
                    ]
                },
            )
        if any(k in ("image_url",) for k in arguments) and not str(
            arguments["image_url"]
        ).startswith("http"):
            return error(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "image_url"],
                            "msg": "invalid or missing URL scheme",
                            "type": "value_error.url.scheme",
                        }
                    ]
                },
            )
        rid = f"req-{len(requests) + 1}"
        requests[rid] = {"model": model, "arguments": arguments, "polls": 0}
        app_id = "/".join(model.split("/")[:2])
        base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        return JSONResponse(
            {
                "request_id": rid,
                "response_url": f"{base}/{app_id}/requests/{rid}",
                "status_url": f"{base}/{app_id}/requests/{rid}/status",
                "cancel_url": f"{base}/{app_id}/requests/{rid}/cancel",
                "queue_position": 0,
            }
        )

    async def status(request: Request) -> Response:
        call = await read(request, recorder, "fal")
        if denied := check(call):
            return denied
        entry = requests.get(request.path_params["rid"])
        if entry is None:
            return error(404, {"detail": "Request not found"})
        entry["polls"] += 1
        state = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"][min(entry["polls"] - 1, 2)]
        return JSONResponse(
            {
                "status": state,
                "request_id": request.path_params["rid"],
                "queue_position": 0 if state == "IN_QUEUE" else None,
            }
        )

    async def result(request: Request) -> Response:
        call = await read(request, recorder, "fal")
        if denied := check(call):
            return denied
        entry = requests.get(request.path_params["rid"])
        if entry is None:
            return error(404, {"detail": "Request not found"})
        return JSONResponse(result_for(entry["model"], entry["arguments"]))

    return Starlette(
        routes=[
            Route("/{owner}/{app}/requests/{rid}/status", status, methods=["GET"]),
            Route("/{owner}/{app}/requests/{rid}", result, methods=["GET"]),
            Route("/{model:path}", submit, methods=["POST"]),
        ]
    )
