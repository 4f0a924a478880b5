"""``make bench-ui``: how long the builder takes to open and draw a 500-node workflow in
headless Debian chromium, and how big the UI bundle is gzipped.

The whole platform runs in embedded mode (``wfb dev`` with free ports); a user registers,
a 500-node definition is created through the BFF, and the editor page is opened in a fresh
browser context (cold cache) several times. The time is the browser's own clock from
navigation start to the ``wfb:canvas-ready`` mark (React Flow has measured and drawn the
nodes): download and parse of the bundle, the session probe, the workflow fetch, instant
validation, layout of the canvas. Targets: <= 1.5 s and <= 600 KB gzipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import BrowserContext, sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.e2e.platform import UI_DIST, running_platform  # noqa: E402

TARGET_MS = 1500
TARGET_KB = 600
WIDTH = 10


def big_definition(n: int = 500) -> dict[str, Any]:
    """A trigger and ``n - 1`` steps in layers of ten, each fed by one or two steps of the
    layer before, with templates reaching upstream (a realistic shape for the canvas)."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "trigger",
            "type": "trigger",
            "label": "Start",
            "enabled": True,
            "position": {"x": 0, "y": 0},
            "config": {"triggerType": "manual"},
        }
    ]
    edges: list[dict[str, Any]] = []
    for i in range(1, n):
        layer, col = divmod(i - 1, WIDTH)
        node_id = f"n{i}"
        parent = "trigger" if layer == 0 else f"n{(layer - 1) * WIDTH + col + 1}"
        nodes.append(
            {
                "id": node_id,
                "type": "action",
                "label": f"Step {i}",
                "enabled": True,
                "position": {"x": 300 * (layer + 1), "y": 110 * col},
                "config": {
                    "actionId": "system/set",
                    "values": {
                        "index": i,
                        "from": f"{{{{{parent}.data}}}}" if parent != "trigger" else "{{trigger}}",
                    },
                },
            }
        )
        edges.append({"id": f"e{i}", "source": parent, "target": node_id})
        if layer > 0 and col > 0:
            other = f"n{(layer - 1) * WIDTH + col}"
            edges.append({"id": f"f{i}", "source": other, "target": node_id})
    return {
        "id": "bench-500",
        "name": "Five hundred steps",
        "version": "1.0.0",
        "nodes": nodes,
        "edges": edges,
        "executionOrder": [],
    }


def bundle_size() -> tuple[int, int, int]:
    """(raw bytes, gzipped bytes) of the whole UI build, and gzipped bytes of what opening a
    page downloads (index.html and what it references; lazy chunks such as the schema
    forms come later)."""
    files = [
        UI_DIST / "index.html",
        *sorted((UI_DIST / "assets").glob("*.js")),
        *sorted((UI_DIST / "assets").glob("*.css")),
    ]
    raw = sum(f.stat().st_size for f in files)
    gz = {f.name: len(gzip.compress(f.read_bytes(), compresslevel=9)) for f in files}
    html = (UI_DIST / "index.html").read_text()
    initial = gz["index.html"] + sum(size for name, size in gz.items() if name in html)
    return raw, sum(gz.values()), initial


def csrf(context: BrowserContext) -> dict[str, str]:
    token = next(c["value"] for c in context.cookies() if c["name"] == "wfb_csrf")
    return {"X-CSRF-Token": token}


def prepare(context: BrowserContext) -> str:
    """Register, find the default project, create the 500-node workflow; its id."""
    api = context.request
    api.get("/api/auth/session")
    email = f"bench-{int(time.time() * 1000)}@example.com"
    r = api.post(
        "/api/auth/register",
        data={"email": email, "password": "bench-password-123"},
        headers=csrf(context),
    )
    assert r.ok, r.text()
    companies = api.get("/api/tenants").json()["companies"]
    if not companies:
        company = api.post(
            "/api/admin/companies", data={"name": "Bench"}, headers=csrf(context)
        ).json()
        org = api.post(
            f"/api/admin/companies/{company['id']}/organizations",
            data={"name": "Bench"},
            headers=csrf(context),
        ).json()
        api.post(
            f"/api/admin/organizations/{org['id']}/projects",
            data={"name": "Bench"},
            headers=csrf(context),
        )
        companies = api.get("/api/tenants").json()["companies"]
    project = companies[0]["organizations"][0]["projects"][0]["id"]
    r = api.post(
        f"/api/admin/projects/{project}/workflows",
        data={"name": "Five hundred steps", "definition": big_definition(), "message": "bench"},
        headers=csrf(context),
    )
    assert r.ok, r.text()
    workflow_id: str = r.json()["id"]
    return workflow_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (UI_DIST / "index.html").is_file():
        print("ui/dist is missing: run `make ui` first", file=sys.stderr)
        return 2
    raw, gz, initial = bundle_size()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_platform(Path(tmp)) as platform,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        setup = browser.new_context(base_url=platform.base_url)
        workflow_id = prepare(setup)
        state = setup.storage_state()
        setup.close()
        times: list[float] = []
        stages: list[dict[str, float]] = []
        drawn = 0
        for _ in range(args.runs):
            context = browser.new_context(
                base_url=platform.base_url,
                storage_state=state,
                viewport={"width": 1440, "height": 900},
            )
            page = context.new_page()
            page.goto(f"/workflows/{workflow_id}")
            page.wait_for_function(
                "() => performance.getEntriesByName('wfb:canvas-ready').length > 0",
                timeout=60_000,
            )
            marks = page.evaluate(
                "() => Object.fromEntries(performance.getEntriesByType('mark')"
                ".filter(m => m.name.startsWith('wfb:')).map(m => [m.name, Math.round(m.startTime)]))"
            )
            times.append(marks["wfb:canvas-ready"])
            stages.append(marks)
            drawn = page.locator(".react-flow__node").count()
            context.close()
        browser.close()
    median = statistics.median(times)
    result = {
        "nodes": 500,
        "nodes_drawn": drawn,
        "open_and_render_ms": {
            "median": round(median),
            "min": round(min(times)),
            "max": round(max(times)),
            "runs": [round(t) for t in times],
        },
        "stages_ms": stages,
        "bundle_bytes": raw,
        "bundle_gzip_bytes": gz,
        "initial_load_gzip_bytes": initial,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ui.json").write_text(json.dumps(result, indent=2))
    print(
        f"open + render a 500-node workflow (cold, {args.runs} runs): median {median:.0f} ms, "
        f"min {min(times):.0f} ms, max {max(times):.0f} ms  (target <= {TARGET_MS} ms: "
        f"{'met' if median <= TARGET_MS else 'MISSED'}); {drawn} nodes drawn"
    )
    middle = stages[times.index(sorted(times)[len(times) // 2])]
    print(
        "  stages of the median run (ms since navigation start): "
        + ", ".join(
            f"{k.removeprefix('wfb:')} {v}" for k, v in sorted(middle.items(), key=lambda kv: kv[1])
        )
    )
    print(
        f"UI bundle: {raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzipped in all, "
        f"{initial / 1024:.0f} KB gzipped on first load  (target <= {TARGET_KB} KB: "
        f"{'met' if gz / 1024 <= TARGET_KB else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
