"""Vercel Blob API: PUT /?pathname=... and GET /?prefix=..."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

MIME = re.compile(r"^[\w.+-]+/[\w.+-]+$")
STORE = "https://abc123.public.blob.vercel-storage.com"


def blob_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return error(status, {"error": {"code": code, "message": message}}, headers)


def app(recorder: Recorder) -> Starlette:
    async def root(request: Request) -> Response:
        call = await read(request, recorder, "blob")
        denied = gate(
            call,
            unauthorized=lambda: blob_error(
                403, "forbidden", "Access denied, please provide a valid token for this resource."
            ),
            limited=lambda: blob_error(
                429,
                "rate_limited",
                "Too many requests please lower the number of concurrent requests",
                {"retry-after": "7"},
            ),
        )
        if denied:
            return denied
        if not call.headers.get("x-api-version"):
            return blob_error(400, "bad_request", "Missing x-api-version header")
        if call.method == "GET":
            blobs = [
                {
                    "url": f"{STORE}/reports/a.json",
                    "downloadUrl": f"{STORE}/reports/a.json?download=1",
                    "pathname": "reports/a.json",
                    "size": 12,
                    "uploadedAt": "2026-01-01T00:00:00.000Z",
                }
            ]
            prefix = call.query.get("prefix", "")
            blobs = [b for b in blobs if b["pathname"].startswith(prefix)]
            return JSONResponse({"blobs": blobs, "cursor": None, "hasMore": False})
        pathname = call.query.get("pathname")
        if not pathname:
            return blob_error(400, "bad_request", "pathname is required")
        if call.headers.get("x-vercel-blob-access") not in ("public", "private"):
            return blob_error(400, "bad_request", 'access must be "public" or "private"')
        content_type = call.headers.get("x-content-type", "text/plain")
        if not MIME.match(content_type):
            return blob_error(400, "bad_request", f"Invalid content type: {content_type}")
        if not call.raw:
            return blob_error(400, "bad_request", "body is required")
        if pathname == "exists.txt" and call.headers.get("x-allow-overwrite") != "1":
            return blob_error(
                400,
                "bad_request",
                "This blob already exists, use `allowOverwrite: true` if you want to overwrite it.",
            )
        suffix = "-Xy7Q2" if call.headers.get("x-add-random-suffix") == "1" else ""
        stem, dot, ext = pathname.rpartition(".")
        stored = f"{stem}{suffix}.{ext}" if dot else f"{pathname}{suffix}"
        return JSONResponse(
            {
                "url": f"{STORE}/{stored}",
                "downloadUrl": f"{STORE}/{stored}?download=1",
                "pathname": stored,
                "contentType": content_type,
                "contentDisposition": f'inline; filename="{stored.rsplit("/", 1)[-1]}"',
            }
        )

    return Starlette(routes=[Route("/", root, methods=["GET", "PUT"])])
