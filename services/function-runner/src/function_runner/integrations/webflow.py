"""Webflow Data API v2: list sites, get a site, publish a site.

Credentials (integration ``webflow``): ``apiToken`` (a site or workspace token with
``sites:read`` / ``sites:write``; also ``apiKey`` or ``WEBFLOW_API_TOKEN``), sent as
``Bearer``. Webflow allows one publish per minute per site: a 429 carries ``Retry-After``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from function_runner.builtins.base import ExecutionContext, builtin
from function_runner.integrations._common import Vendor, schema, string_list, text_field

WEBFLOW = Vendor(
    "webflow", "Webflow", "https://api.webflow.com/v2", ("apiToken", "apiKey", "WEBFLOW_API_TOKEN")
)
SITE_ID = text_field("Site", "Webflow site id.", minLength=1)
SITE = schema(
    {
        "id": {"type": "string"},
        "displayName": {"type": ["string", "null"]},
        "shortName": {"type": ["string", "null"]},
        "workspaceId": {"type": ["string", "null"]},
        "previewUrl": {"type": ["string", "null"]},
        "timeZone": {"type": ["string", "null"]},
        "createdOn": {"type": ["string", "null"]},
        "lastUpdated": {"type": ["string", "null"]},
        "lastPublished": {"type": ["string", "null"]},
        "customDomains": {"type": "array", "items": {"type": "object"}},
    },
    ("id",),
)


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {WEBFLOW.secret(ctx)}", "accept": "application/json"}


def site(data: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "displayName",
        "shortName",
        "workspaceId",
        "previewUrl",
        "timeZone",
        "createdOn",
        "lastUpdated",
        "lastPublished",
    )
    out = {key: data.get(key) for key in keys}
    out["customDomains"] = [
        {"id": d.get("id"), "url": d.get("url")} for d in data.get("customDomains") or []
    ]
    return out


@builtin(
    slug="webflow/list-sites",
    name="List Sites",
    description="List the Webflow sites the token can access.",
    category="Webflow",
    integration_type="webflow",
    input_schema=schema({}),
    output_schema=schema(
        {"sites": {"type": "array", "items": SITE}, "count": {"type": "integer"}},
        ("sites", "count"),
    ),
)
async def list_sites(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    response = await WEBFLOW.request(ctx, "GET", "/sites", headers=_headers(ctx))
    sites = [site(item) for item in WEBFLOW.json(response).get("sites") or []]
    return {"sites": sites, "count": len(sites)}


@builtin(
    slug="webflow/get-site",
    name="Get Site",
    description="Read a Webflow site, with its custom domains.",
    category="Webflow",
    integration_type="webflow",
    input_schema=schema({"siteId": SITE_ID}, ("siteId",)),
    output_schema=SITE,
)
async def get_site(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    path = f"/sites/{quote(input['siteId'], safe='')}"
    return site(WEBFLOW.json(await WEBFLOW.request(ctx, "GET", path, headers=_headers(ctx))))


@builtin(
    slug="webflow/publish-site",
    name="Publish Site",
    description="Publish a Webflow site to its webflow.io subdomain and/or custom domains.",
    category="Webflow",
    integration_type="webflow",
    input_schema=schema(
        {
            "siteId": SITE_ID,
            "customDomains": {
                "type": ["array", "string"],
                "title": "Custom domains",
                "description": "Custom domain ids to publish to (see Get Site).",
                "items": {"type": "string"},
            },
            "publishToWebflowSubdomain": {
                "type": "boolean",
                "title": "Publish to webflow.io",
                "default": True,
            },
        },
        ("siteId",),
    ),
    output_schema=schema(
        {
            "siteId": {"type": "string"},
            "queued": {"type": "boolean"},
            "customDomains": {"type": "array", "items": {"type": "object"}},
            "publishToWebflowSubdomain": {"type": "boolean"},
        },
        ("siteId", "queued"),
    ),
)
async def publish_site(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body = {
        "customDomains": string_list(input.get("customDomains")),
        "publishToWebflowSubdomain": input.get("publishToWebflowSubdomain", True),
    }
    path = f"/sites/{quote(input['siteId'], safe='')}/publish"
    data = WEBFLOW.json(await WEBFLOW.request(ctx, "POST", path, headers=_headers(ctx), json=body))
    return {
        "siteId": input["siteId"],
        "queued": True,
        "customDomains": data.get("customDomains") or [],
        "publishToWebflowSubdomain": bool(
            data.get("publishToWebflowSubdomain", body["publishToWebflowSubdomain"])
        ),
    }
