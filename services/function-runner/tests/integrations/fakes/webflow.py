"""Webflow Data API v2: GET /v2/sites, GET /v2/sites/{id}, POST /v2/sites/{id}/publish."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Recorder, error, gate, read


def site(sid: str) -> dict[str, Any]:
    return {
        "id": sid,
        "workspaceId": "ws_1",
        "displayName": "Acme Marketing",
        "shortName": "acme-marketing",
        "previewUrl": "https://screenshots.webflow.com/sites/acme.png",
        "timeZone": "Europe/Paris",
        "createdOn": "2025-01-01T00:00:00.000Z",
        "lastUpdated": "2026-01-01T00:00:00.000Z",
        "lastPublished": "2026-01-01T00:00:00.000Z",
        "customDomains": [{"id": "dom_1", "url": "www.acme.com", "lastPublished": None}],
        "locales": {},
    }


def app(recorder: Recorder) -> Starlette:
    def check(call):  # type: ignore[no-untyped-def]
        return gate(
            call,
            unauthorized=lambda: error(
                401,
                {
                    "code": "not_authorized",
                    "message": "Request not authorized",
                    "externalReference": None,
                    "details": [],
                },
            ),
            limited=lambda: error(
                429,
                {
                    "code": "too_many_requests",
                    "message": "Too many requests",
                    "externalReference": None,
                    "details": [],
                },
                {"Retry-After": "60"},
            ),
        )

    async def sites(request: Request) -> Response:
        call = await read(request, recorder, "webflow")
        if denied := check(call):
            return denied
        return JSONResponse({"sites": [site("site_123"), site("site_456")]})

    async def one(request: Request) -> Response:
        call = await read(request, recorder, "webflow")
        if denied := check(call):
            return denied
        sid = request.path_params["sid"]
        if not sid.startswith("site_"):
            return error(
                404,
                {
                    "code": "resource_not_found",
                    "message": "Requested resource not found: The site cannot be found",
                    "externalReference": None,
                    "details": [],
                },
            )
        return JSONResponse(site(sid))

    async def publish(request: Request) -> Response:
        call = await read(request, recorder, "webflow")
        if denied := check(call):
            return denied
        body = call.body or {}
        domains = body.get("customDomains") or []
        if not domains and not body.get("publishToWebflowSubdomain"):
            return error(
                400,
                {
                    "code": "validation_error",
                    "message": "Validation Error: Provide customDomains or publishToWebflowSubdomain",
                    "details": [],
                },
            )
        unknown = [d for d in domains if d != "dom_1"]
        if unknown:
            return error(
                400,
                {
                    "code": "validation_error",
                    "message": f"Validation Error: customDomains {unknown} are not domains of this site",
                    "details": [],
                },
            )
        return JSONResponse(
            {
                "customDomains": [{"id": d, "url": "www.acme.com"} for d in domains],
                "publishToWebflowSubdomain": bool(body.get("publishToWebflowSubdomain")),
            },
            status_code=202,
        )

    return Starlette(
        routes=[
            Route("/v2/sites", sites, methods=["GET"]),
            Route("/v2/sites/{sid}", one, methods=["GET"]),
            Route("/v2/sites/{sid}/publish", publish, methods=["POST"]),
        ]
    )
