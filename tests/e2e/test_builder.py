"""The builder in a real browser (Debian chromium) against the real platform (embedded)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from .conftest import shot
from .flows import (
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
from .platform import ROOT

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
