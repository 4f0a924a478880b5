import { describe, expect, it } from "vitest";
import { catalog, chain } from "../../test/fixtures";
import { createEditorStore } from "./editorStore";

describe("editor store", () => {
  it("loads a definition and exports it unchanged", () => {
    const store = createEditorStore(chain());
    const out = store.getState().toDefinition();
    expect(out.nodes.map((n) => n.id)).toEqual(["t", "a", "g", "b"]);
    expect(store.getState().dirty).toBe(false);
  });

  it("adds nodes with unique ids and labels, and undoes/redoes", () => {
    const store = createEditorStore(chain());
    const s = store.getState();
    const id1 = s.addNode("action", { x: 0, y: 0 });
    const id2 = store.getState().addNode("action", { x: 0, y: 0 });
    expect(id1).not.toBe(id2);
    const labels = store.getState().nodes.filter((n) => [id1, id2].includes(n.id)).map((n) => n.data.label);
    expect(labels).toEqual(["Action", "Action 2"]);
    expect(store.getState().dirty).toBe(true);
    store.getState().undo();
    expect(store.getState().nodes.some((n) => n.id === id2)).toBe(false);
    store.getState().undo();
    expect(store.getState().nodes).toHaveLength(4);
    store.getState().redo();
    expect(store.getState().nodes.some((n) => n.id === id1)).toBe(true);
    store.getState().addNode("timer", { x: 0, y: 0 });
    expect(store.getState().future).toEqual([]);
  });

  it("refuses invalid connections and records the reason", () => {
    const store = createEditorStore(chain());
    expect(store.getState().connect({ source: "b", target: "a", sourceHandle: null, targetHandle: null })).toBe(false);
    expect(store.getState().connectionError).toMatch(/cycle/);
    expect(store.getState().connect({ source: "g", target: "b", sourceHandle: "rejected", targetHandle: null })).toBe(true);
    expect(store.getState().edges.filter((e) => e.source === "g").map((e) => e.sourceHandle)).toEqual(["approved", "rejected"]);
    expect(store.getState().connectionError).toBeNull();
  });

  it("deletes the selection with its edges", () => {
    const store = createEditorStore(chain());
    store.getState().select("g");
    store.getState().deleteSelection();
    expect(store.getState().nodes.map((n) => n.id)).toEqual(["t", "a", "b"]);
    expect(store.getState().edges.map((e) => e.id)).toEqual(["e1"]);
    store.getState().undo();
    expect(store.getState().edges).toHaveLength(3);
  });

  it("copies and pastes a subgraph with fresh ids and labels, never a second trigger", () => {
    const store = createEditorStore(chain());
    store.getState().selectAll();
    expect(store.getState().copy()).toBe(4);
    expect(store.getState().paste()).toBe(3);
    const s = store.getState();
    expect(s.nodes).toHaveLength(7);
    expect(new Set(s.nodes.map((n) => n.id)).size).toBe(7);
    expect(s.nodes.filter((n) => n.data.kind === "trigger")).toHaveLength(1);
    expect(s.nodes.map((n) => n.data.label)).toContain("Fetch Data 2");
    const pastedEdges = s.edges.filter((e) => !["e1", "e2", "e3"].includes(e.id));
    expect(pastedEdges).toHaveLength(2);
    expect(pastedEdges.find((e) => e.sourceHandle === "approved")).toBeTruthy();
  });

  it("revalidates on every change and when the catalog arrives", () => {
    const store = createEditorStore(chain());
    store.getState().setCatalog(catalog);
    expect(store.getState().clientIssues.filter((i) => i.severity === "error")).toEqual([]);
    store.getState().updateConfig("a", { actionId: "system/http-request" });
    expect(store.getState().clientIssues).toContainEqual(expect.objectContaining({ nodeId: "a", field: "config.url" }));
  });

  it("folds run events into the overlay in order, ignoring replays", () => {
    const store = createEditorStore(chain());
    store.getState().startRun("r1");
    const ev = (seq: number, type: string, nodeId?: string, data = {}) =>
      store.getState().applyRunEvent({ seq, instanceId: "r1", type, nodeId, at: "", data });
    ev(1, "run.started");
    ev(2, "node.started", "a");
    ev(3, "node.completed", "a");
    ev(4, "approval.requested", "g", { eventName: "approval_g" });
    let run = store.getState().run!;
    expect(run.nodeStatus).toMatchObject({ a: "completed", g: "waiting" });
    expect(run.phase).toBe("awaiting_approval");
    expect(run.pendingApproval?.nodeId).toBe("g");
    expect(run.currentNodeIds).toEqual(["g"]);
    ev(2, "node.started", "a");
    expect(store.getState().run!.nodeStatus.a).toBe("completed");
    ev(5, "approval.answered", "g");
    ev(6, "node.skipped", "b");
    ev(7, "run.completed");
    run = store.getState().run!;
    expect(run.runtimeStatus).toBe("COMPLETED");
    expect(run.progress).toBe(100);
    expect(run.nodeStatus.b).toBe("skipped");
    store.getState().applyRunEvent({ seq: 8, instanceId: "other", type: "run.failed", at: "" });
    expect(store.getState().run!.runtimeStatus).toBe("COMPLETED");
  });

  it("applies status snapshots", () => {
    const store = createEditorStore(chain());
    store.getState().startRun("r1");
    store.getState().applyRunStatus({
      instanceId: "r1", workflowId: "wf", runtimeStatus: "RUNNING", phase: "running", progress: 40,
      currentNodeIds: ["g"], outputs: { trigger: {}, a: { success: true } }, pendingApproval: null,
    });
    expect(store.getState().run).toMatchObject({ progress: 40, nodeStatus: { a: "completed", g: "running" } });
  });
});

describe("undo granularity", () => {
  it("coalesces rapid edits of one node's config into one undo step", () => {
    const store = createEditorStore(chain());
    for (const url of ["h", "ht", "htt", "http"]) store.getState().updateConfig("a", { actionId: "system/http-request", url });
    expect(store.getState().past).toHaveLength(1);
    store.getState().updateConfig("b", { actionId: "system/log" });
    expect(store.getState().past).toHaveLength(2);
    store.getState().undo();
    store.getState().undo();
    expect(store.getState().nodes.find((n) => n.id === "a")!.data.config.url).toBe("https://x/{{trigger.who}}");
  });
});

describe("validation markers", () => {
  it("keeps one mark per node, merging instant and server issues", () => {
    const store = createEditorStore(chain());
    store.getState().setCatalog(catalog);
    store.getState().updateConfig("a", { actionId: "system/http-request" });
    expect(store.getState().issueMarks.get("a")).toMatch(/^1\|0\|'url' is required/);
    store.getState().setServerIssues([
      { code: "invalid_config", message: "url is required", nodeId: "a", field: "config.url", severity: "error" },
      { code: "x", message: "w", nodeId: "b", severity: "warning" },
    ]);
    expect(store.getState().issueMarks.get("a")).toBe("1|0|url is required");
    expect(store.getState().issueMarks.get("b")).toBe("0|1|w");
    expect(store.getState().issueMarks.has("t")).toBe(false);
  });
});
