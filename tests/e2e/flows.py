"""What a person does in the builder, as reusable steps for the browser tests."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

PASSWORD = "correct-horse-battery-staple"


def register(page: Page, name: str = "Ada Lovelace") -> str:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/(workflows|setup)$"))
    return email


def create_project(page: Page, project: str) -> None:
    """Through the New project page; a new company and organization when there are none."""
    page.goto("/setup")
    expect(page.get_by_role("heading", name="New project")).to_be_visible()
    if page.get_by_label("Company name").count():
        page.get_by_label("Company name").fill("Acme Corp")
    if page.get_by_label("Organization name").count():
        page.get_by_label("Organization name").fill("Operations")
    page.get_by_label("Project name").fill(project)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r"/workflows$"))
    expect(page.get_by_role("heading", name=re.compile(f"{project} · Workflows"))).to_be_visible()


def new_workflow(page: Page, name: str) -> str:
    page.get_by_role("button", name="New workflow").first.click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create and open").click()
    page.wait_for_url(re.compile(r"/workflows/[^/]+$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("node-trigger")).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


def canvas(page: Page) -> Locator:
    return page.get_by_test_id("canvas")


def drop(page: Page, palette_test_id: str, x: int, y: int) -> str:
    """Drag a palette entry onto the canvas at (x, y); returns the new node's id."""
    before = set(
        page.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)")
    )
    page.get_by_test_id(palette_test_id).drag_to(canvas(page), target_position={"x": x, "y": y})
    node = page.locator(".react-flow__node.selected")
    expect(node).to_have_count(1)
    node_id = node.get_attribute("data-id")
    assert node_id and node_id not in before
    return node_id


def handle(page: Page, node_id: str, kind: str, handle_id: str | None = None) -> Locator:
    node = page.locator(f'.react-flow__node[data-id="{node_id}"]')
    if handle_id:
        return node.locator(f'.react-flow__handle[data-handleid="{handle_id}"]')
    return node.locator(f".react-flow__handle.{kind}").first


def connect(page: Page, source: str, target: str, source_handle: str | None = None) -> None:
    """Draw an edge with the mouse, from a source handle to a target's input handle."""
    start = handle(page, source, "source", source_handle).bounding_box()
    end = handle(page, target, "target").bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def edge_count(page: Page) -> int:
    return page.locator(".react-flow__edge").count()


def select_node(page: Page, node_id: str) -> None:
    page.locator(f'.react-flow__node[data-id="{node_id}"]').click()
    expect(page.locator(f'.react-flow__node[data-id="{node_id}"].selected')).to_have_count(1)


def config_field(page: Page, node_id: str, name: str) -> Locator:
    """A field of the form generated from the function's input schema."""
    return page.locator(f'[id="cfg-{node_id}_{name}"]')


def type_with_autocomplete(field: Locator, before: str, query: str, choose: str) -> None:
    """Type text, then `{{` + a prefix, and pick an upstream field from the suggestions."""
    field.click()
    field.fill(before)
    field.press("End")
    field.press_sequentially("{{" + query, delay=20)
    option = field.page.get_by_role("option", name=re.compile(re.escape(choose)))
    expect(option.first).to_be_visible()
    option.first.click()


def build_review_workflow(page: Page, name: str) -> dict[str, str]:
    """trigger (topic) -> Render Template -> approval gate -> Log, all by drag and drop and
    the generated forms; saved as a new version. Returns the node ids."""
    wid = new_workflow(page, name)
    select_node(page, "trigger")
    page.get_by_role("button", name="+ Add input field").click()
    page.get_by_label("Input field 1 name").fill("topic")
    page.get_by_role("checkbox", name="required").check()

    draft = drop(page, "palette-fn-system/template", 130, 470)
    type_with_autocomplete(
        config_field(page, draft, "template"), "Draft about ", "trigger.to", "trigger.topic"
    )
    expect(config_field(page, draft, "template")).to_have_value("Draft about {{trigger.topic}}")
    gate = drop(page, "palette-kind-approval-gate", 400, 470)
    page.get_by_label("Message to the approver").fill("Publish this draft?")
    publish = drop(page, "palette-fn-system/log", 670, 470)

    connect(page, "trigger", draft)
    connect(page, draft, gate)
    connect(page, gate, publish, "approved")
    expect(page.locator(".react-flow__edge")).to_have_count(3)

    select_node(page, publish)
    type_with_autocomplete(
        config_field(page, publish, "message"),
        "Publishing: ",
        "RenderT",
        "RenderTemplate.data.text",
    )
    expect(page.get_by_test_id("problem-count")).to_have_text(
        re.compile(r"^0 errors"), timeout=10_000
    )

    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_label("What changed?").fill("Review flow with an approval gate")
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_text("Saved version 2")).to_be_visible()
    expect(page.get_by_test_id("dirty")).to_have_count(0)
    return {"workflow": wid, "draft": draft, "gate": gate, "publish": publish}


def start_run(page: Page, topic: str) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog", name="Run workflow")
    dialog.get_by_label(re.compile("topic", re.IGNORECASE)).fill(topic)
    dialog.get_by_role("button", name=re.compile(r"^(Save and run|Run)$")).click()
    expect(page.get_by_test_id("run-banner")).to_be_visible()
