import { describe, expect, it } from "vitest";
import { chain } from "../test/fixtures";
import { diffDefinitions, diffIsEmpty, ImportError, parseDefinitionText, toJson, toYaml } from "./io";

describe("import/export", () => {
  it("round-trips JSON and YAML", () => {
    const def = chain();
    expect(parseDefinitionText(toJson(def))).toEqual(def);
    expect(parseDefinitionText(toYaml(def))).toEqual(def);
  });
  it("explains what is wrong with a bad file", () => {
    expect(() => parseDefinitionText("{nodes: [")).toThrow(ImportError);
    expect(() => parseDefinitionText("[1,2]")).toThrow(/object/);
    expect(() => parseDefinitionText("nodes: 3")).toThrow(/nodes/);
    expect(() => parseDefinitionText("nodes: [{id: a}]")).toThrow(/node #1/);
  });
});

describe("definition diff", () => {
  it("reports added, removed and changed nodes and edges, ignoring positions", () => {
    const before = chain();
    const after = chain();
    after.nodes[1].position = { x: 999, y: 999 };
    expect(diffIsEmpty(diffDefinitions(before, after))).toBe(true);
    after.nodes[1].config.url = "https://other";
    after.nodes.pop();
    after.edges.pop();
    after.nodes.push({ id: "n", type: "timer", label: "Wait", enabled: true, position: { x: 0, y: 0 }, config: { durationSeconds: 1 } });
    after.edges.push({ id: "x", source: "g", target: "n", sourceHandle: "approved" });
    const d = diffDefinitions(before, after);
    expect(d.addedNodes.map((n) => n.id)).toEqual(["n"]);
    expect(d.removedNodes.map((n) => n.id)).toEqual(["b"]);
    expect(d.changedNodes).toEqual([{ id: "a", label: "Fetch Data", changes: [{ path: "config.url", before: "https://x/{{trigger.who}}", after: "https://other" }] }]);
    expect(d.addedEdges.map((e) => e.target)).toEqual(["n"]);
    expect(d.removedEdges.map((e) => e.target)).toEqual(["b"]);
  });
});
