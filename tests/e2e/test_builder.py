"""The builder in a real browser (Debian chromium) against the real platform (embedded)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import shot
from .flows import (
    PASSWORD,
    build_review_workflow,
    config_field,
    connect,
    create_project,
    drop,
    new_workflow,
    register,
    select_node,
    start_run,
    type_with_autocomplete,
)
from .platform import ROOT, Platform

pytestmark = pytest.mark.e2e


def test_register_create_project_build_and_save(page: Page) -> None:
    register(page)
    shot(page, "01-after-register")
    create_project(page, "Launch")
    expect(page.get_by_text("No workflows yet")).to_be_visible()
    shot(page, "02-workflows-empty")
    ids = build_review_workflow(page, "Content review")
    shot(page, "03-editor-built")

    # The saved version is what the server has: reload and find the same graph.
    page.reload()
    expect(page.locator(".react-flow__node")).to_have_count(4)
    expect(page.locator(".react-flow__edge")).to_have_count(3)
    select_node(page, ids["draft"])
    expect(page.locator(f'[id="cfg-{ids["draft"]}_template"]')).to_have_value(
        "Draft about {{trigger.topic}}"
    )

    # Deploy makes the saved version active; stop ends that.
    page.get_by_role("button", name="Deploy", exact=True).click()
    expect(page.locator(".editor-title .pill")).to_have_text("deployed")
    expect(page.get_by_text("active v2")).to_be_visible()
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator(".editor-title .pill")).to_have_text("stopped")

    # Version history lists both versions and diffs them.
    page.get_by_role("button", name="History").click()
    page.get_by_role("button", name=re.compile(r"^v2 ")).click()
    page.get_by_label(re.compile("Compare v2 with")).select_option("previous")
    expect(page.get_by_test_id("version-diff")).to_contain_text("+ node Render Template")
    shot(page, "04-version-history")
    page.keyboard.press("Escape")

    # Every change was audited (admins and owners read the log).
    page.goto("/audit")
    expect(page.locator("tbody")).to_contain_text("workflow.save")
    expect(page.locator("tbody")).to_contain_text("workflow.deploy")
    shot(page, "04b-audit-log")


def test_register_a_function_and_store_a_credential(page: Page) -> None:
    register(page)
    create_project(page, "Integrations")
    page.goto("/functions")
    page.get_by_role("button", name="Register function").click()
    dialog = page.get_by_role("dialog", name="Register a function")
    dialog.get_by_label("Slug (plugin/name)").fill("acme/score-lead")
    dialog.get_by_label("Name", exact=True).fill("Score lead")
    dialog.get_by_label("Webhook URL").fill("https://hooks.example.com/score")
    dialog.get_by_label("Input schema (JSON Schema)").fill(
        '{"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}'
    )
    dialog.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Registered acme/score-lead")).to_be_visible()
    page.get_by_role("button", name=re.compile("Score lead")).click()
    expect(page.get_by_role("dialog")).to_contain_text('"email"')
    shot(page, "13-function-registered")
    page.keyboard.press("Escape")

    # The new function is in the editor's palette with a form generated from its schema.
    page.goto("/workflows")
    new_workflow(page, "Scoring")
    page.get_by_label("Search steps and functions").fill("score")
    expect(page.get_by_test_id("palette-fn-system/log")).to_have_count(0)
    node = drop(page, "palette-fn-acme/score-lead", 250, 470)
    expect(page.locator(f'[id="cfg-{node}_email"]')).to_be_visible()

    page.goto("/credentials")
    page.get_by_label("Name", exact=True).fill("acme-prod")
    page.get_by_label("Integration").fill("acme")
    page.get_by_label("Key 1").fill("apiKey")
    page.get_by_label("Value 1").fill("s3cr3t-value")
    page.get_by_role("button", name="Store credential").click()
    row = page.locator("tbody tr", has_text="acme-prod")
    expect(row).to_contain_text("apiKey")
    expect(page.locator("body")).not_to_contain_text("s3cr3t-value")
    shot(page, "14-credentials")


def test_connection_rules_refuse_cycles_and_edges_into_the_trigger(page: Page) -> None:
    register(page)
    create_project(page, "Rules")
    new_workflow(page, "Rules")
    a = drop(page, "palette-fn-system/log", 250, 470)
    b = drop(page, "palette-fn-system/log", 520, 470)
    connect(page, "trigger", a)
    connect(page, a, b)
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    connect(page, b, a)
    expect(page.get_by_test_id("connection-hint")).to_contain_text("cycle")
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    shot(page, "05a-cycle-refused")
    # Undo and redo the last edge with the keyboard.
    page.locator(".react-flow__pane").click(position={"x": 200, "y": 600})
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator(".react-flow__edge")).to_have_count(2)


def test_validation_error_is_shown_on_the_right_node(page: Page) -> None:
    register(page)
    create_project(page, "Checks")
    new_workflow(page, "Broken")
    ok = drop(page, "palette-fn-system/log", 150, 470)
    page.locator(f'[id="cfg-{ok}_message"]').fill("fine")
    bad = drop(page, "palette-fn-system/http-request", 520, 470)
    connect(page, "trigger", ok)
    connect(page, "trigger", bad)
    marker = page.get_by_test_id(f"node-issues-{bad}")
    expect(marker).to_be_visible()
    expect(marker).to_have_attribute("aria-label", re.compile("url"))
    expect(page.get_by_test_id(f"node-issues-{ok}")).to_have_count(0)
    problems = page.locator(".problems-list")
    expect(problems).to_contain_text("HTTP Request")
    expect(problems).to_contain_text("url")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_disabled()
    shot(page, "05-validation-error")
    # Choosing the problem selects the node and shows the field's problem in its panel.
    page.locator(".problems-list button", has_text="HTTP Request").first.click()
    expect(page.locator(f'.react-flow__node[data-id="{bad}"].selected')).to_have_count(1)
    expect(page.get_by_role("list", name="Problems of this node")).to_contain_text("url")
    page.locator(f'[id="cfg-{bad}_url"]').fill("https://example.com/hook")
    expect(page.get_by_test_id(f"node-issues-{bad}")).to_have_count(0, timeout=10_000)


def test_import_an_example_workflow(page: Page) -> None:
    register(page)
    create_project(page, "Imports")
    example = ROOT / "examples" / "ten-step-chain.json"
    definition = json.loads(example.read_text())
    page.get_by_test_id("import-workflow-file").set_input_files(str(example))
    page.wait_for_url(re.compile(r"/workflows/[^/]+$"))
    expect(page.locator(".react-flow__node")).to_have_count(len(definition["nodes"]))
    expect(page.locator(".react-flow__edge")).to_have_count(len(definition["edges"]))
    expect(page.get_by_test_id("problem-count")).to_have_text(
        re.compile(r"^0 errors"), timeout=10_000
    )
    page.get_by_role("button", name="Layout").click()
    shot(page, "06-imported-example")
    page.goto("/workflows")
    expect(page.get_by_role("link", name=definition["name"])).to_be_visible()


def test_run_approve_watch_live_and_inspect_outputs(page: Page, needs_orchestrator: None) -> None:
    register(page)
    create_project(page, "Runs")
    ids = build_review_workflow(page, "Approve me")
    start_run(page, "the launch")
    expect(page.get_by_test_id(f"node-{ids['draft']}")).to_have_attribute(
        "data-run-status", "completed", timeout=60_000
    )
    expect(page.get_by_test_id("approval-box")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id(f"node-{ids['gate']}")).to_have_attribute(
        "data-run-status", "waiting"
    )
    shot(page, "07-run-waiting-for-approval")
    box = page.get_by_test_id("approval-box")
    box.get_by_label("Reason").fill("Looks good")
    box.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_test_id("run-phase")).to_have_text("completed", timeout=60_000)
    expect(page.get_by_test_id(f"node-{ids['publish']}")).to_have_attribute(
        "data-run-status", "completed"
    )
    shot(page, "08-run-completed-overlay")
    page.get_by_role("link", name="Open run").click()
    expect(page.get_by_test_id("run-page-phase")).to_have_text("completed")
    page.get_by_test_id(f"timeline-{ids['publish']}").click()
    expect(page.get_by_test_id("node-output")).to_contain_text("Publishing: Draft about the launch")
    page.get_by_test_id(f"timeline-{ids['draft']}").click()
    expect(page.get_by_test_id("node-output")).to_contain_text("Draft about the launch")
    shot(page, "09-run-timeline")
    first_run = page.url.rsplit("/", 1)[-1]

    # Replay with edited trigger data, approve from the run page this time.
    page.get_by_role("button", name="Replay…").click()
    page.get_by_label("Trigger data (JSON)").fill('{"topic": "the sequel"}')
    page.get_by_role("dialog").get_by_role("button", name="Replay").click()
    page.wait_for_url(lambda url: not url.endswith(first_run))
    box = page.get_by_test_id("approval-box")
    expect(box).to_be_visible(timeout=60_000)
    box.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_test_id("run-page-phase")).to_have_text("completed", timeout=60_000)
    page.get_by_test_id(f"timeline-{ids['publish']}").click()
    expect(page.get_by_test_id("node-output")).to_contain_text("Publishing: Draft about the sequel")

    # Both runs are listed; compare them node by node.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    shot(page, "10-runs-list")
    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.locator("tr.differs")).not_to_have_count(0)
    expect(page.get_by_text("Draft about the sequel").first).to_be_visible()
    shot(page, "11-run-compare")

    # The workflow list shows the last run.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    row = page.locator("tbody tr", has_text="Approve me")
    expect(row.locator(".pill-completed")).to_be_visible()
    shot(page, "11b-workflows-last-run")


def test_rejected_approval_ends_the_run_rejected(page: Page, needs_orchestrator: None) -> None:
    register(page)
    create_project(page, "Rejections")
    ids = build_review_workflow(page, "Reject me")
    start_run(page, "a bad idea")
    expect(page.get_by_test_id("approval-box")).to_be_visible(timeout=60_000)
    box = page.get_by_test_id("approval-box")
    box.get_by_label("Reason").fill("Not now")
    box.get_by_role("button", name="Reject", exact=True).click()
    expect(page.get_by_test_id("run-phase")).to_have_text("rejected", timeout=60_000)
    expect(page.get_by_test_id(f"node-{ids['publish']}")).not_to_have_attribute(
        "data-run-status", "completed"
    )
    shot(page, "12-run-rejected")


def test_webhook_trigger_configured_deployed_and_called_from_the_triggers_panel(
    page: Page, needs_orchestrator: None
) -> None:
    """A webhook trigger set up in the node panel, deployed; the Triggers panel shows its
    state and URL, reveals the secret, and its example request (run as a sender would run
    it, with curl and openssl) starts a run that appears among the firings."""
    register(page)
    create_project(page, "Hooks")
    wid = new_workflow(page, "Order hook")
    select_node(page, "trigger")
    page.get_by_label("Trigger type").select_option("webhook")
    page.get_by_label("Authentication").select_option("hmac")
    page.get_by_label("Replay window (seconds)").fill("120")
    page.get_by_label("Rate limit (requests per minute)").fill("30")
    page.get_by_role("button", name="+ Add input field").click()
    page.get_by_label("Input field 1 name").fill("orderId")
    page.get_by_role("checkbox", name="required").check()
    shot(page, "09-webhook-trigger-panel")
    log = drop(page, "palette-fn-system/log", 420, 300)
    connect(page, "trigger", log)
    type_with_autocomplete(
        config_field(page, log, "message"), "Order ", "trigger.or", "trigger.orderId"
    )
    expect(page.get_by_test_id("problem-count")).to_have_text(
        re.compile(r"^0 errors"), timeout=10_000
    )
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_label("What changed?").fill("Webhook for orders")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_text("Saved version 2")).to_be_visible()
    page.get_by_role("button", name="Deploy", exact=True).click()
    expect(page.locator(".editor-title .pill")).to_have_text("deployed")

    page.get_by_role("button", name="Triggers", exact=True).click()
    panel = page.get_by_test_id("triggers-panel")
    row = panel.get_by_test_id("trigger-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("v2")
    origin = page.evaluate("location.origin")
    expect(panel.get_by_test_id("webhook-url")).to_have_text(f"{origin}/hooks/{wid}")
    expect(panel.get_by_test_id("webhook-auth")).to_contain_text("HMAC-SHA256")
    expect(panel.get_by_text("No firings yet.")).to_be_visible()
    panel.get_by_role("button", name="Reveal secret").click()
    secret = panel.get_by_test_id("webhook-secret").inner_text().strip()
    assert len(secret) >= 16
    example = panel.get_by_test_id("webhook-example").inner_text()
    assert '"orderId":"example"' in example
    shot(page, "10-triggers-panel")

    script = example.split("\n", 1)[1]  # without the `export` placeholder line
    sent = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WFB_WEBHOOK_SECRET": secret},
    )
    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    assert answer["instanceId"] and answer["firingId"], answer

    panel.get_by_role("button", name="Refresh").click()
    firing = panel.get_by_test_id("firing-row")
    expect(firing).to_have_count(1)
    expect(firing).to_contain_text("started")
    expect(firing).to_contain_text("webhook")
    expect(row).not_to_contain_text("never")  # last fired: just now
    expect(panel.get_by_text("set", exact=True)).to_be_visible()  # the secret exists now
    firing.scroll_into_view_if_needed()
    shot(page, "11-triggers-firings")
    firing.get_by_role("link", name=answer["instanceId"]).click()
    page.wait_for_url(re.compile(f"/runs/{re.escape(answer['instanceId'])}$"))
    expect(page.get_by_text("completed").first).to_be_visible(timeout=30_000)


def greeting_flow() -> dict[str, object]:
    return {
        "id": "key-check",
        "name": "key-check",
        "version": "1.0.0",
        "nodes": [
            {
                "id": "trigger",
                "type": "trigger",
                "label": "Start",
                "config": {"triggerType": "manual"},
            },
            {
                "id": "greet",
                "type": "action",
                "label": "Greet",
                "config": {"actionId": "system/template", "template": "hello {{trigger.name}}"},
            },
        ],
        "edges": [{"id": "1", "source": "trigger", "target": "greet"}],
        "executionOrder": [],
    }


def test_api_key_made_in_the_ui_runs_wfb_and_stops_working_once_revoked(
    page: Page, platform: Platform, needs_orchestrator: None, tmp_path: Path
) -> None:
    register(page)
    create_project(page, "Keys")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("laptop")
    page.get_by_label("Role", exact=True).select_option("editor")
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="API key created")
    key = dialog.get_by_test_id("new-api-key").inner_text().strip()
    assert key.startswith("wfb_"), key
    expect(dialog.get_by_test_id("api-key-cli-hint")).to_contain_text(f"export WFB_TOKEN={key}")
    shot(page, "15-api-key-created")
    dialog.get_by_role("button", name="Done").click()
    row = page.get_by_test_id("api-key-row").filter(has_text="laptop")
    expect(row).to_contain_text("editor")
    expect(row).to_contain_text("active")
    expect(page.locator("body")).not_to_contain_text(key)  # shown once

    # The key works for the CLI: `wfb run` as the README says, against the orchestrator.
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(greeting_flow()))
    wfb = Path(sys.executable).parent / "wfb"
    env = {**os.environ, "WFB_URL": platform.url("workflow-orchestrator"), "WFB_TOKEN": key}
    cmd = [str(wfb), "run", str(flow), "--input", '{"name": "Ada"}', "--wait-timeout", "90"]
    ran = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert ran.returncode == 0, (ran.stdout, ran.stderr)
    page.reload()
    expect(row).not_to_contain_text("never")  # last used: just now

    row.get_by_role("button", name="Revoke laptop").click()
    confirm = page.get_by_role("dialog", name="Revoke laptop?")
    shot(page, "16-api-key-revoke-confirm")
    confirm.get_by_role("button", name="Revoke key").click()
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke laptop")).to_have_count(0)
    shot(page, "17-api-key-revoked")

    # The orchestrator caches introspection for up to 30 s: the key is refused within that.
    runs = platform.url("workflow-orchestrator", "/api/v2/workflows?limit=1")
    deadline = time.monotonic() + 45
    status = 0
    while time.monotonic() < deadline:
        status = httpx.get(runs, headers={"authorization": f"Bearer {key}"}, timeout=10).status_code
        if status == 401:
            break
        time.sleep(1)
    assert status == 401
    refused = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)


def test_owner_invites_a_member_who_registers_and_joins_with_the_role(
    page: Page, browser: Browser, platform: Platform
) -> None:
    register(page, "Olivia Owner")
    create_project(page, "Team")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_test_id("my-scope-role")).to_have_text("owner")
    me = page.get_by_test_id("member-row").filter(has_text="Olivia Owner")
    expect(me.get_by_test_id("inherited")).to_contain_text("owner on company Acme Corp")
    invitee = f"bea-{uuid.uuid4().hex[:8]}@example.com"
    page.get_by_label("Email").fill(invitee)
    page.locator("#inv-role").select_option("editor")
    page.get_by_role("button", name="Create invitation").click()
    link = page.get_by_test_id("invitation-link").inner_text().strip()
    assert link.startswith(f"{platform.base_url}/invitations/accept?token=wfi_"), link
    expect(page.get_by_test_id("invitation-row")).to_contain_text(invitee)
    shot(page, "18-members-invited")

    # The last owner of the company cannot leave it: admin-api's refusal, as it words it.
    page.get_by_role("button", name=re.compile("^Company: Acme Corp")).click()
    page.get_by_role("button", name=re.compile("^Remove ")).first.click()
    page.get_by_role("dialog").get_by_role("button", name="Remove member").click()
    expect(page.get_by_role("alert")).to_contain_text("last owner of a company")
    shot(page, "19-members-last-owner")

    # The invitee opens the link in their own browser, registers, comes back and accepts.
    other = browser.new_context(base_url=platform.base_url, viewport={"width": 1440, "height": 900})
    other.set_default_timeout(15_000)
    try:
        guest = other.new_page()
        guest.goto(link)
        expect(guest.get_by_role("heading", name="You are invited")).to_be_visible()
        guest.get_by_role("link", name="Create an account").click()
        guest.get_by_label("Name").fill("Bea Member")
        guest.get_by_label("Email").fill(invitee)
        guest.get_by_label("Password").fill(PASSWORD)
        guest.get_by_role("button", name="Create account").click()
        guest.wait_for_url(re.compile(r"/invitations/accept\?token="))
        expect(guest.get_by_text(f"Signed in as {invitee}")).to_be_visible()
        shot(guest, "20-invitation-accept")
        guest.get_by_role("button", name="Accept invitation").click()
        expect(guest.get_by_test_id("joined")).to_have_text(
            "You are now editor on the project Team."
        )
        guest.get_by_role("button", name="Open Team").click()
        expect(guest.get_by_role("heading", name=re.compile("Team · Workflows"))).to_be_visible()
        expect(guest.get_by_test_id("project-role")).to_have_text("editor")
        expect(guest.get_by_text("No workflows yet")).to_be_visible()
        shot(guest, "21-invitee-sees-project")
        guest.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
        mine = guest.get_by_test_id("member-row").filter(has_text="Bea Member")
        expect(mine).to_contain_text("editor")
        expect(mine).to_contain_text("direct")
        expect(guest.get_by_role("button", name="Create invitation")).to_have_count(0)
        guest.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
        expect(guest.get_by_text("Admins only")).to_be_visible()
        # The link is spent.
        guest.goto(link)
        guest.get_by_role("button", name="Accept invitation").click()
        expect(guest.get_by_role("alert")).to_contain_text("was used, revoked, or has expired")
    finally:
        other.close()

    # The owner sees the new member and no pending invitation.
    page.get_by_role("button", name=re.compile("^Project: Team")).click()
    expect(page.get_by_test_id("member-row").filter(has_text="Bea Member")).to_contain_text(
        "editor"
    )
    expect(page.get_by_test_id("invitation-row")).to_have_count(0)
    shot(page, "22-members-after-join")
