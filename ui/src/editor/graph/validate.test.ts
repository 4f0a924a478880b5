import { describe, expect, it } from "vitest";
import { catalog, chain } from "../../test/fixtures";
import { definitionToFlow } from "./convert";
import { clientIssues } from "./validate";

const ctx = { catalog: new Map(catalog.map((f) => [f.slug, f])), catalogLoaded: true };

function issuesOf(mutate: (def: ReturnType<typeof chain>) => void) {
  const def = chain();
  mutate(def);
  const { nodes, edges } = definitionToFlow(def);
  return clientIssues(nodes, edges, ctx);
}

describe("client-side validation", () => {
  it("accepts a valid chain", () => {
    expect(issuesOf(() => {}).filter((i) => i.severity === "error")).toEqual([]);
  });

  it("flags a missing required input on the right node and field", () => {
    const issues = issuesOf((d) => delete d.nodes[1].config.url);
    expect(issues).toContainEqual(expect.objectContaining({ nodeId: "a", field: "config.url", code: "missing_input" }));
  });

  it("flags unknown functions only once the catalog is loaded", () => {
    const def = chain();
    def.nodes[1].config.actionId = "nope/missing";
    const { nodes, edges } = definitionToFlow(def);
    expect(clientIssues(nodes, edges, ctx)).toContainEqual(expect.objectContaining({ nodeId: "a", code: "unknown_function" }));
    expect(clientIssues(nodes, edges, { catalog: new Map(), catalogLoaded: false }).some((i) => i.code === "unknown_function")).toBe(false);
  });

  it("flags references to unknown and non-upstream nodes", () => {
    const unknown = issuesOf((d) => (d.nodes[1].config.url = "{{Nope.data}}"));
    expect(unknown).toContainEqual(expect.objectContaining({ nodeId: "a", code: "unknown_reference" }));
    const downstream = issuesOf((d) => (d.nodes[1].config.url = "{{Log.data}}"));
    expect(downstream).toContainEqual(expect.objectContaining({ nodeId: "a", code: "not_upstream" }));
  });

  it("flags missing and duplicate triggers, cycles, duplicate labels and disconnected nodes", () => {
    expect(issuesOf((d) => d.nodes.shift())).toContainEqual(expect.objectContaining({ code: "missing_trigger" }));
    expect(issuesOf((d) => d.nodes.push({ ...d.nodes[0], id: "t2" }))).toContainEqual(expect.objectContaining({ code: "multiple_triggers", nodeId: "t2" }));
    expect(issuesOf((d) => d.edges.push({ id: "x", source: "b", target: "a" }))).toContainEqual(expect.objectContaining({ code: "cycle" }));
    expect(issuesOf((d) => (d.nodes[3].label = "Approve"))).toContainEqual(expect.objectContaining({ code: "duplicate_label", severity: "warning" }));
    expect(issuesOf((d) => d.edges.pop())).toContainEqual(expect.objectContaining({ code: "not_connected", nodeId: "b" }));
  });

  it("checks each node type's own config", () => {
    const def = chain();
    def.nodes.push(
      { id: "c", type: "condition", label: "C", enabled: true, position: { x: 0, y: 0 }, config: { expression: "" } },
      { id: "w", type: "timer", label: "W", enabled: true, position: { x: 0, y: 0 }, config: { durationSeconds: 1, durationMinutes: 2 } },
      { id: "p", type: "publish-event", label: "P", enabled: true, position: { x: 0, y: 0 }, config: {} },
      { id: "s", type: "sub-workflow", label: "S", enabled: true, position: { x: 0, y: 0 }, config: { version: "old" } },
      { id: "l", type: "for-each", label: "L", enabled: true, position: { x: 0, y: 0 }, config: { items: "{{trigger.x}}" } },
    );
    const { nodes, edges } = definitionToFlow(def);
    const byNode = (id: string) => clientIssues(nodes, edges, ctx).filter((i) => i.nodeId === id && i.severity === "error");
    expect(byNode("c")[0].field).toBe("config.expression");
    expect(byNode("w")[0].message).toMatch(/one duration form/);
    expect(byNode("p")[0].field).toBe("config.topic");
    expect(byNode("s").map((i) => i.field)).toEqual(["config.workflowId", "config.version"]);
    expect(byNode("l")[0].field).toBe("config.actionId");
  });
});
