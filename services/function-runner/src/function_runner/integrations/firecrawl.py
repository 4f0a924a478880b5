"""Firecrawl v1: ``firecrawl/scrape`` and ``firecrawl/search``.

Credentials (integration ``firecrawl``): ``apiKey`` (``fc-...``; also
``FIRECRAWL_API_KEY``), sent as ``Bearer``. The URL to scrape is fetched by Firecrawl,
not by this service.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, text_field

FIRECRAWL = Vendor(
    "firecrawl", "Firecrawl", "https://api.firecrawl.dev/v1", ("apiKey", "FIRECRAWL_API_KEY")
)
FORMATS = ["markdown", "html", "rawHtml", "links", "screenshot"]


def _headers(ctx: ExecutionContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {FIRECRAWL.secret(ctx)}"}


def _data(body: Any) -> Any:
    if not isinstance(body, dict) or body.get("success") is False:
        error = body.get("error") if isinstance(body, dict) else None
        raise FunctionError(
            f"Firecrawl failed: {error or 'unknown error'}", code="upstream", retryable=True
        )
    return body.get("data")


@builtin(
    slug="firecrawl/scrape",
    name="Scrape URL",
    description="Fetch a web page and return it as Markdown (and optionally HTML, links...).",
    category="Firecrawl",
    integration_type="firecrawl",
    input_schema=schema(
        {
            "url": text_field("URL", "The page to scrape.", minLength=1, format="uri"),
            "formats": {
                "type": "array",
                "title": "Formats",
                "items": {"type": "string", "enum": FORMATS},
                "default": ["markdown"],
            },
            "onlyMainContent": {
                "type": "boolean",
                "title": "Main content only",
                "description": "Drop headers, navigation and footers.",
                "default": True,
            },
            "waitFor": {
                "type": "integer",
                "title": "Wait (ms)",
                "description": "Wait before scraping.",
                "minimum": 0,
            },
            "timeout": {"type": "integer", "title": "Timeout (ms)", "minimum": 1000},
        },
        ("url",),
    ),
    output_schema=schema(
        {
            "markdown": {"type": ["string", "null"]},
            "html": {"type": ["string", "null"]},
            "rawHtml": {"type": ["string", "null"]},
            "links": {"type": "array", "items": {"type": "string"}},
            "screenshot": {"type": ["string", "null"]},
            "title": {"type": ["string", "null"]},
            "sourceUrl": {"type": ["string", "null"]},
            "statusCode": {"type": ["integer", "null"]},
            "metadata": {"type": "object"},
        },
        ("metadata",),
    ),
)
async def scrape(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": input["url"],
        "formats": input.get("formats") or ["markdown"],
        "onlyMainContent": input.get("onlyMainContent", True),
    }
    for key in ("waitFor", "timeout"):
        if input.get(key) is not None:
            body[key] = input[key]
    response = await FIRECRAWL.request(ctx, "POST", "/scrape", headers=_headers(ctx), json=body)
    data = _data(FIRECRAWL.json(response)) or {}
    metadata = data.get("metadata") or {}
    return {
        "markdown": data.get("markdown"),
        "html": data.get("html"),
        "rawHtml": data.get("rawHtml"),
        "links": data.get("links") or [],
        "screenshot": data.get("screenshot"),
        "title": metadata.get("title"),
        "sourceUrl": metadata.get("sourceURL") or metadata.get("url"),
        "statusCode": metadata.get("statusCode"),
        "metadata": metadata,
    }


@builtin(
    slug="firecrawl/search",
    name="Search the Web",
    description="Search the web; optionally scrape each result as Markdown.",
    category="Firecrawl",
    integration_type="firecrawl",
    input_schema=schema(
        {
            "query": text_field("Query", "What to search for.", minLength=1),
            "limit": {
                "type": "integer",
                "title": "Results",
                "minimum": 1,
                "maximum": 100,
                "default": 5,
            },
            "scrapeResults": {
                "type": "boolean",
                "title": "Scrape results",
                "description": "Also return each result's content as Markdown.",
                "default": False,
            },
            "lang": text_field("Language", "e.g. en."),
            "country": text_field("Country", "e.g. us."),
            "tbs": text_field("Time range", "e.g. qdr:w for the past week."),
        },
        ("query",),
    ),
    output_schema=schema(
        {
            "results": {
                "type": "array",
                "items": schema(
                    {
                        "url": {"type": "string"},
                        "title": {"type": ["string", "null"]},
                        "description": {"type": ["string", "null"]},
                        "markdown": {"type": ["string", "null"]},
                    },
                    ("url",),
                ),
            },
            "count": {"type": "integer"},
        },
        ("results", "count"),
    ),
)
async def search(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {"query": input["query"], "limit": input.get("limit", 5)}
    for key in ("lang", "country", "tbs"):
        if input.get(key):
            body[key] = input[key]
    if input.get("scrapeResults"):
        body["scrapeOptions"] = {"formats": ["markdown"]}
    response = await FIRECRAWL.request(ctx, "POST", "/search", headers=_headers(ctx), json=body)
    items = _data(FIRECRAWL.json(response)) or []
    results = [
        {
            "url": item.get("url"),
            "title": item.get("title"),
            "description": item.get("description"),
            "markdown": item.get("markdown"),
        }
        for item in items
    ]
    return {"results": results, "count": len(results)}
