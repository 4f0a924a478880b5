import { describe, expect, it } from "vitest";
import { chain } from "../../test/fixtures";
import { checkConnection, findCycle, upstreamOf, wouldCreateCycle } from "./analysis";
import { definitionToFlow, flowToDefinition, DefinitionError } from "./convert";
import { autoLayout } from "./layout";

describe("definition <-> flow", () => {
  it("round-trips seed 003 JSON without losing unknown fields or aliases", () => {
    const def = chain();
    const { meta, nodes, edges } = definitionToFlow(def);
    expect(nodes.map((n) => n.type)).toEqual(["trigger", "action", "approval-gate", "action"]);
    const back = flowToDefinition(meta, nodes, edges);
    expect(back.nodes[3].type).toBe("activity");
    expect(back.nodes[3].notes).toBe("kept");
    expect(back.edges[2].sourceHandle).toBe("approved");
    expect(back.metadata).toEqual({ tags: ["demo"] });
    expect(back.executionOrder).toEqual(["t", "a", "g", "b"]);
  });

  it("rejects unknown node types with the node id", () => {
    const def = chain();
    def.nodes[1].type = "bogus";
    expect(() => definitionToFlow(def)).toThrow(DefinitionError);
    expect(() => definitionToFlow(def)).toThrow(/node a/);
  });
});

describe("graph analysis", () => {
  const { nodes, edges } = definitionToFlow(chain());

  it("finds upstream nodes", () => {
    expect([...upstreamOf("b", edges)].sort()).toEqual(["a", "g", "t"]);
    expect(upstreamOf("t", edges).size).toBe(0);
  });

  it("detects cycles and names the path", () => {
    expect(wouldCreateCycle(edges, "b", "a")).toBe(true);
    expect(wouldCreateCycle(edges, "a", "b")).toBe(false);
    expect(findCycle(["a", "b"], [{ source: "a", target: "b" }, { source: "b", target: "a" }])).toEqual(["a", "b", "a"]);
    expect(findCycle(["t", "a", "g", "b"], edges)).toBeNull();
  });

  it("refuses invalid connections with a reason", () => {
    expect(checkConnection({ source: "b", target: "t" }, nodes, edges)).toEqual({ ok: false, reason: "a trigger cannot have incoming edges" });
    expect(checkConnection({ source: "b", target: "a" }, nodes, edges)).toMatchObject({ ok: false, reason: /cycle/ });
    expect(checkConnection({ source: "g", target: "b" }, nodes, edges)).toMatchObject({ ok: false, reason: /approved \/ rejected \/ timeout/ });
    expect(checkConnection({ source: "g", target: "b", sourceHandle: "approved" }, nodes, edges)).toMatchObject({ ok: false, reason: /already connected/ });
    expect(checkConnection({ source: "a", target: "b", sourceHandle: "true" }, nodes, edges)).toMatchObject({ ok: false });
    expect(checkConnection({ source: "a", target: "a" }, nodes, edges)).toMatchObject({ ok: false });
    expect(checkConnection({ source: "g", target: "b", sourceHandle: "rejected" }, nodes, edges)).toEqual({ ok: true });
    expect(checkConnection({ source: "a", target: "b" }, nodes, edges)).toEqual({ ok: true });
  });

  it("lays out left to right by dependency", () => {
    const laid = autoLayout(nodes, edges);
    const x = Object.fromEntries(laid.map((n) => [n.id, n.position.x]));
    expect(x.t).toBeLessThan(x.a);
    expect(x.a).toBeLessThan(x.g);
    expect(x.g).toBeLessThan(x.b);
  });
});

import { humanize, uiSchemaFor } from "../panels/schemaUi";

describe("generated forms", () => {
  it("titles fields, uses text areas for long text and a JSON field for untyped values", () => {
    expect(humanize("aiPrompt")).toBe("Ai prompt");
    expect(humanize("webhook_url")).toBe("Webhook url");
    const ui = uiSchemaFor({
      type: "object",
      properties: { message: { type: "string" }, body: {}, level: { enum: ["info"] }, count: { type: "integer", title: "Count" } },
    });
    expect(ui.message).toEqual({ "ui:title": "Message", "ui:widget": "textarea" });
    expect(ui.body).toEqual({ "ui:title": "Body", "ui:field": "AnyValue" });
    expect(ui.level).toEqual({ "ui:title": "Level" });
    expect(ui.count).toEqual({});
  });
});
