"""Fixtures of the browser end-to-end tests: the real platform (embedded mode, ``wfb dev``)
and Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from .platform import ROOT, UI_DIST, Platform, running_platform

ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "Debian's chromium is not installed: run `make browser` (apt-get install chromium)"
        )
    return path


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    if not (UI_DIST / "index.html").is_file():
        pytest.fail("the UI is not built: run `make ui` (npm ci && vite build)")
    with running_platform(tmp_path_factory.mktemp("platform")) as running:
        yield running


@pytest.fixture(scope="session")
def orchestrator_v2(platform: Platform) -> bool:
    """Whether the orchestrator on this branch serves the v2 run API (it lands later)."""
    try:
        spec = httpx.get(platform.url("workflow-orchestrator", "/openapi.json"), timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return "/api/v2/workflows/{instance_id}/stream" in spec.get("paths", {}) or any(
        p.startswith("/api/v2/workflows/") and p.endswith("/stream") for p in spec.get("paths", {})
    )


@pytest.fixture
def needs_orchestrator(orchestrator_v2: bool) -> None:
    if not orchestrator_v2:
        pytest.skip("the orchestrator's v2 API is not on this branch yet (runs cannot start)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, platform: Platform) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=platform.base_url, viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
