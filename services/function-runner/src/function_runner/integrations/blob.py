"""Vercel Blob: ``blob/put`` and ``blob/list``.

Credentials (integration ``blob``): ``token`` (a store's read-write token
``vercel_blob_rw_<storeId>_...``; also ``BLOB_READ_WRITE_TOKEN``), sent as ``Bearer``; the
store id in the token is sent as ``x-vercel-blob-store-id``.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, builtin
from function_runner.integrations._common import Vendor, schema, text_field

BLOB = Vendor(
    "blob", "Vercel Blob", "https://vercel.com/api/blob", ("token", "BLOB_READ_WRITE_TOKEN")
)
API_VERSION = "11"
BLOB_ITEM = schema(
    {
        "url": {"type": "string"},
        "downloadUrl": {"type": "string"},
        "pathname": {"type": "string"},
        "size": {"type": "integer"},
        "uploadedAt": {"type": "string"},
    },
    ("url", "pathname"),
)


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    token = BLOB.secret(ctx)
    headers = {"Authorization": f"Bearer {token}", "x-api-version": API_VERSION}
    parts = token.split("_")
    if len(parts) > 3 and parts[3]:
        headers["x-vercel-blob-store-id"] = parts[3]
    return headers


@builtin(
    slug="blob/put",
    name="Put Blob",
    description="Upload text content to Vercel Blob storage.",
    category="Vercel Blob",
    integration_type="blob",
    input_schema=schema(
        {
            "pathname": text_field(
                "Path", "Where to store it, e.g. reports/daily.json.", minLength=1, maxLength=950
            ),
            "body": text_field("Content", "The content to store.", **{"x-ui-widget": "textarea"}),
            "contentType": text_field(
                "Content type", "e.g. application/json (default: from the path)."
            ),
            "access": {
                "type": "string",
                "title": "Access",
                "enum": ["public", "private"],
                "default": "public",
            },
            "addRandomSuffix": {
                "type": "boolean",
                "title": "Random suffix",
                "description": "Append a random suffix so the path is unguessable and unique.",
                "default": False,
            },
            "allowOverwrite": {"type": "boolean", "title": "Overwrite", "default": False},
            "cacheControlMaxAge": {"type": "integer", "title": "Cache max-age (s)", "minimum": 60},
        },
        ("pathname", "body"),
    ),
    output_schema=schema(
        {
            "url": {"type": "string"},
            "downloadUrl": {"type": "string"},
            "pathname": {"type": "string"},
            "contentType": {"type": ["string", "null"]},
            "contentDisposition": {"type": ["string", "null"]},
        },
        ("url", "pathname"),
    ),
)
async def put(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    headers = _headers(ctx)
    headers["x-vercel-blob-access"] = input.get("access", "public")
    headers["x-add-random-suffix"] = "1" if input.get("addRandomSuffix") else "0"
    if input.get("allowOverwrite"):
        headers["x-allow-overwrite"] = "1"
    if input.get("contentType"):
        headers["x-content-type"] = input["contentType"]
    if input.get("cacheControlMaxAge"):
        headers["x-cache-control-max-age"] = str(input["cacheControlMaxAge"])
    response = await BLOB.request(
        ctx,
        "PUT",
        "/",
        params={"pathname": input["pathname"]},
        headers=headers,
        content=str(input["body"]).encode(),
    )
    data = BLOB.json(response)
    return {
        key: data.get(key)
        for key in ("url", "downloadUrl", "pathname", "contentType", "contentDisposition")
    }


@builtin(
    slug="blob/list",
    name="List Blobs",
    description="List blobs in Vercel Blob storage, optionally under a prefix.",
    category="Vercel Blob",
    integration_type="blob",
    input_schema=schema(
        {
            "prefix": text_field("Prefix", "Only paths starting with this."),
            "limit": {
                "type": "integer",
                "title": "Limit",
                "minimum": 1,
                "maximum": 1000,
                "default": 1000,
            },
            "cursor": text_field("Cursor", "From a previous page's 'cursor'."),
            "mode": {
                "type": "string",
                "title": "Mode",
                "enum": ["expanded", "folded"],
                "default": "expanded",
                "description": "'folded' groups paths into folders.",
            },
        }
    ),
    output_schema=schema(
        {
            "blobs": {"type": "array", "items": BLOB_ITEM},
            "folders": {"type": "array", "items": {"type": "string"}},
            "cursor": {"type": ["string", "null"]},
            "hasMore": {"type": "boolean"},
        },
        ("blobs", "hasMore"),
    ),
)
async def list_blobs(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    params = {
        "prefix": input.get("prefix") or None,
        "limit": input.get("limit"),
        "cursor": input.get("cursor") or None,
        "mode": input.get("mode"),
    }
    response = await BLOB.request(ctx, "GET", "/", params=params, headers=_headers(ctx))
    data = BLOB.json(response)
    blobs = [
        {k: item.get(k) for k in ("url", "downloadUrl", "pathname", "size", "uploadedAt")}
        for item in data.get("blobs") or []
    ]
    return {
        "blobs": blobs,
        "folders": data.get("folders") or [],
        "cursor": data.get("cursor"),
        "hasMore": bool(data.get("hasMore")),
    }
