"""Serves the built UI: hashed assets are immutable, ``index.html`` is never cached, client
routes fall back to ``index.html``, and ``/api/*`` never does (an unknown API path is a 404
problem, not a page)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from service_kit.problems import NotFound, ServiceUnavailable

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
_RESERVED = (
    "api/",
    "hooks/",
    "dapr/",
    "healthz",
    "readyz",
    "metrics",
    "docs",
    "openapi.json",
    "redoc",
)


def _inside(root: Path, relative: str) -> Path | None:
    candidate = (root / relative).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        return None
    return candidate if candidate.is_file() else None


def ui_router(ui_dir: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    root = ui_dir.resolve()

    def index() -> Response:
        page = root / "index.html"
        if not page.is_file():
            raise ServiceUnavailable(
                f"the UI is not built ({page} is missing); run `make install` (npm ci && vite build)"
            )
        return FileResponse(page, media_type="text/html", headers={"Cache-Control": NO_CACHE})

    @router.get("/assets/{name:path}")
    async def asset(name: str) -> Response:
        found = _inside(root / "assets", name)
        if found is None:
            raise NotFound(f"asset {name} not found")
        return FileResponse(found, headers={"Cache-Control": IMMUTABLE})

    @router.get("/{path:path}")
    async def spa(path: str, request: Request) -> Response:
        if path.startswith(_RESERVED) or path in ("api", "hooks"):
            raise NotFound(f"{request.url.path} not found")
        if path and "." in path.rsplit("/", 1)[-1]:
            found = _inside(root, path)
            if found is None:
                raise NotFound(f"{request.url.path} not found")
            return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})
        return index()

    return router
