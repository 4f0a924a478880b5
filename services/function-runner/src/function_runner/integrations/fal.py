"""fal.ai (queue API): image, video, upscaling, background removal, image-to-image.

Credentials (integration ``fal``): ``apiKey`` (also ``FAL_KEY`` or ``FAL_API_KEY``), sent as
``Authorization: Key <key>``. A request is submitted to ``queue.fal.run/<model>``; its
status is polled (the queue API's documented way, with growing intervals, bounded by
the run's deadline) until ``COMPLETED``, then the result is read. Status and result URLs
from the queue are followed only on the queue's own host.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, text_field

FAL = Vendor("fal", "fal.ai", "https://queue.fal.run", ("apiKey", "FAL_KEY", "FAL_API_KEY"))
POLL_FIRST_SECONDS = 0.25
POLL_MAX_SECONDS = 3.0
IMAGE_URL = text_field("Image URL", "URL of the source image (fal fetches it).", minLength=1)
IMAGE_OUT = schema(
    {
        "imageUrl": {"type": "string"},
        "width": {"type": ["integer", "null"]},
        "height": {"type": ["integer", "null"]},
        "contentType": {"type": ["string", "null"]},
        "images": {"type": "array", "items": {"type": "object"}},
        "seed": {"type": ["integer", "null"]},
        "requestId": {"type": "string"},
    },
    ("imageUrl",),
)


def _model(default: str, choices: list[str]) -> dict[str, Any]:
    return {
        "type": "string",
        "title": "Model",
        "description": "fal endpoint id.",
        "default": default,
        "examples": choices,
        "pattern": r"^[\w.-]+/[\w.-]+(/[\w.-]+)*$",
    }


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {"Authorization": f"Key {FAL.secret(ctx)}"}


def _same_host(url: Any, base: str) -> bool:
    if not isinstance(url, str):
        return False
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


async def run_model(ctx: ExecutionContext, model: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Submit to the queue, wait for completion, return the result document."""
    base = FAL.base_url(ctx)
    headers = _headers(ctx)
    submitted = FAL.json(
        await FAL.request(ctx, "POST", f"/{model}", headers=headers, json=arguments)
    )
    request_id = submitted.get("request_id")
    if not request_id:
        raise FunctionError("fal.ai did not return a request id", code="upstream", retryable=True)
    app = "/".join(model.split("/")[:2])  # status/result live under owner/app
    status_url = submitted.get("status_url")
    response_url = submitted.get("response_url")
    if not _same_host(status_url, base):
        status_url = f"{base}/{app}/requests/{request_id}/status"
    if not _same_host(response_url, base):
        response_url = f"{base}/{app}/requests/{request_id}"
    interval = POLL_FIRST_SECONDS
    while True:
        status = FAL.json(await FAL.request(ctx, "GET", status_url, headers=headers))
        state = status.get("status")
        if state == "COMPLETED":
            if status.get("error"):
                raise FunctionError(
                    f"fal.ai model {model} failed: {status['error']}",
                    code="validation" if status.get("error_type") else "upstream",
                )
            break
        if state not in ("IN_QUEUE", "IN_PROGRESS"):
            raise FunctionError(f"fal.ai returned an unknown status {state!r}", code="upstream")
        if time.monotonic() + interval >= ctx.deadline:
            raise FunctionError(
                f"fal.ai request {request_id} did not complete before the timeout",
                code="timeout",
                retryable=True,
                details={"requestId": request_id},
            )
        await asyncio.sleep(interval)
        interval = min(interval * 2, POLL_MAX_SECONDS)
    result: dict[str, Any] = FAL.json(await FAL.request(ctx, "GET", response_url, headers=headers))
    result.setdefault("request_id", request_id)
    return result


def _image_result(result: dict[str, Any]) -> dict[str, Any]:
    images = result.get("images") or (
        [result["image"]] if isinstance(result.get("image"), dict) else []
    )
    if not images or not images[0].get("url"):
        raise FunctionError("fal.ai returned no image", code="upstream", retryable=True)
    first = images[0]
    return {
        "imageUrl": first["url"],
        "width": first.get("width"),
        "height": first.get("height"),
        "contentType": first.get("content_type"),
        "images": images,
        "seed": result.get("seed"),
        "requestId": result.get("request_id"),
    }


@builtin(
    slug="fal/generate-image",
    name="Generate Image",
    description="Generate images from a prompt (Flux, Stable Diffusion, Recraft...).",
    category="fal.ai",
    integration_type="fal",
    input_schema=schema(
        {
            "model": _model(
                "fal-ai/flux/schnell",
                [
                    "fal-ai/flux/schnell",
                    "fal-ai/flux/dev",
                    "fal-ai/flux-pro/v1.1",
                    "fal-ai/recraft-v3",
                ],
            ),
            "prompt": text_field(
                "Prompt", "Describe the image.", minLength=1, **{"x-ui-widget": "textarea"}
            ),
            "imageSize": {
                "type": "string",
                "title": "Size",
                "enum": [
                    "square",
                    "square_hd",
                    "portrait_4_3",
                    "portrait_16_9",
                    "landscape_4_3",
                    "landscape_16_9",
                ],
                "default": "landscape_16_9",
            },
            "numImages": {
                "type": "integer",
                "title": "Images",
                "minimum": 1,
                "maximum": 4,
                "default": 1,
            },
            "seed": {"type": "integer", "title": "Seed"},
        },
        ("prompt",),
    ),
    output_schema=IMAGE_OUT,
)
async def generate_image(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "prompt": input["prompt"],
        "image_size": input.get("imageSize", "landscape_16_9"),
        "num_images": input.get("numImages", 1),
    }
    if input.get("seed") is not None:
        arguments["seed"] = input["seed"]
    return _image_result(
        await run_model(ctx, input.get("model") or "fal-ai/flux/schnell", arguments)
    )


@builtin(
    slug="fal/generate-video",
    name="Generate Video",
    description="Generate a video from a prompt, or animate an image.",
    category="fal.ai",
    integration_type="fal",
    timeout_seconds=900,
    input_schema=schema(
        {
            "model": _model(
                "fal-ai/minimax-video",
                [
                    "fal-ai/minimax-video",
                    "fal-ai/kling-video/v1/standard/text-to-video",
                    "fal-ai/luma-dream-machine",
                ],
            ),
            "prompt": text_field(
                "Prompt", "Describe the video.", minLength=1, **{"x-ui-widget": "textarea"}
            ),
            "imageUrl": text_field("Image URL", "Image to animate (image-to-video models)."),
        },
        ("prompt",),
    ),
    output_schema=schema(
        {
            "videoUrl": {"type": "string"},
            "contentType": {"type": ["string", "null"]},
            "requestId": {"type": "string"},
        },
        ("videoUrl",),
    ),
)
async def generate_video(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    arguments: dict[str, Any] = {"prompt": input["prompt"]}
    if input.get("imageUrl"):
        arguments["image_url"] = input["imageUrl"]
    result = await run_model(ctx, input.get("model") or "fal-ai/minimax-video", arguments)
    video = result.get("video") or {}
    if not video.get("url"):
        raise FunctionError("fal.ai returned no video", code="upstream", retryable=True)
    return {
        "videoUrl": video["url"],
        "contentType": video.get("content_type"),
        "requestId": result["request_id"],
    }


@builtin(
    slug="fal/upscale-image",
    name="Upscale Image",
    description="Upscale an image to a higher resolution.",
    category="fal.ai",
    integration_type="fal",
    input_schema=schema(
        {
            "model": _model(
                "fal-ai/creative-upscaler",
                ["fal-ai/creative-upscaler", "fal-ai/clarity-upscaler", "fal-ai/esrgan"],
            ),
            "imageUrl": IMAGE_URL,
            "scale": {"type": "integer", "title": "Scale", "enum": [2, 4], "default": 2},
        },
        ("imageUrl",),
    ),
    output_schema=IMAGE_OUT,
)
async def upscale_image(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    arguments = {"image_url": input["imageUrl"], "scale": input.get("scale", 2)}
    return _image_result(
        await run_model(ctx, input.get("model") or "fal-ai/creative-upscaler", arguments)
    )


@builtin(
    slug="fal/remove-background",
    name="Remove Background",
    description="Cut the subject out of an image (transparent background).",
    category="fal.ai",
    integration_type="fal",
    input_schema=schema(
        {
            "model": _model(
                "fal-ai/imageutils/rembg", ["fal-ai/imageutils/rembg", "fal-ai/birefnet"]
            ),
            "imageUrl": IMAGE_URL,
        },
        ("imageUrl",),
    ),
    output_schema=IMAGE_OUT,
)
async def remove_background(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    result = await run_model(
        ctx, input.get("model") or "fal-ai/imageutils/rembg", {"image_url": input["imageUrl"]}
    )
    return _image_result(result)


@builtin(
    slug="fal/image-to-image",
    name="Image to Image",
    description="Transform an image following a prompt.",
    category="fal.ai",
    integration_type="fal",
    input_schema=schema(
        {
            "model": _model(
                "fal-ai/flux/dev/image-to-image",
                ["fal-ai/flux/dev/image-to-image", "fal-ai/flux-pro/v1/redux"],
            ),
            "imageUrl": IMAGE_URL,
            "prompt": text_field(
                "Prompt", "How to transform the image.", minLength=1, **{"x-ui-widget": "textarea"}
            ),
            "strength": {
                "type": "number",
                "title": "Strength",
                "description": "How far from the source image (0-1).",
                "minimum": 0,
                "maximum": 1,
                "default": 0.75,
            },
        },
        ("imageUrl", "prompt"),
    ),
    output_schema=IMAGE_OUT,
)
async def image_to_image(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    arguments = {
        "image_url": input["imageUrl"],
        "prompt": input["prompt"],
        "strength": input.get("strength", 0.75),
    }
    return _image_result(
        await run_model(ctx, input.get("model") or "fal-ai/flux/dev/image-to-image", arguments)
    )
