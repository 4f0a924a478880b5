"""Firecrawl v1: POST /v1/scrape and /v1/search."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read

FORMATS = {"markdown", "html", "rawHtml", "links", "screenshot"}


def app(recorder: Recorder) -> Starlette:
    def check(call):  # type: ignore[no-untyped-def]
        return gate(
            call,
            unauthorized=lambda: error(
                401, {"success": False, "error": "Unauthorized: Invalid token"}
            ),
            limited=lambda: error(
                429,
                {
                    "success": False,
                    "error": "Rate limit exceeded. Consumed (req/min): 11, Remaining (req/min): 0.",
                },
                {"retry-after": "12"},
            ),
        )

    async def scrape(request: Request) -> Response:
        call = await read(request, recorder, "firecrawl")
        if denied := check(call):
            return denied
        body = call.body or {}
        url = body.get("url", "")
        if not url.startswith(("http://", "https://")):
            return error(
                400,
                {
                    "success": False,
                    "error": "Bad Request",
                    "details": [{"path": ["url"], "message": "Invalid URL"}],
                },
            )
        if set(body.get("formats") or ["markdown"]) - FORMATS:
            return error(400, {"success": False, "error": "Invalid format"})
        data = {
            "markdown": "# Example Domain\n\nThis domain is for use in examples.",
            "metadata": {
                "title": "Example Domain",
                "sourceURL": url,
                "statusCode": 200,
                "language": "en",
            },
        }
        if "links" in body.get("formats", []):
            data["links"] = ["https://www.iana.org/domains/example"]
        return JSONResponse({"success": True, "data": data})

    async def search(request: Request) -> Response:
        call = await read(request, recorder, "firecrawl")
        if denied := check(call):
            return denied
        body = call.body or {}
        if not body.get("query"):
            return error(
                400,
                {
                    "success": False,
                    "error": "Bad Request",
                    "details": [{"path": ["query"], "message": "Required"}],
                },
            )
        results = [
            {
                "url": f"https://example.com/{i}",
                "title": f"Result {i}",
                "description": "About workflows",
            }
            for i in range(min(body.get("limit", 5), 3))
        ]
        if body.get("scrapeOptions"):
            for item in results:
                item["markdown"] = f"# {item['title']}"
        return JSONResponse({"success": True, "data": results})

    return Starlette(
        routes=[
            Route("/v1/scrape", scrape, methods=["POST"]),
            Route("/v1/search", search, methods=["POST"]),
        ]
    )
