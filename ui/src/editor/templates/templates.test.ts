import { describe, expect, it } from "vitest";
import { catalog } from "../../test/fixtures";
import {
  applySuggestion,
  findOpenTemplate,
  normalizeLabel,
  referenceName,
  resolveHead,
  templateHeads,
  templateSuggestions,
  type TemplateSource,
} from "./templates";

const sources: TemplateSource[] = [
  { nodeId: "t", name: "trigger", label: "Start", kind: "trigger", outputSchema: { type: "object", properties: { who: { type: "string" } } } },
  { nodeId: "a", name: "FetchData", label: "Fetch Data", kind: "action", outputSchema: catalog[0].outputSchema },
  { nodeId: "g", name: "Approve", label: "Approve", kind: "approval-gate" },
];

describe("template references", () => {
  it("extracts heads from nested config, ignoring escaped braces", () => {
    expect(templateHeads({ a: "x {{Fetch.data[0].id}} {{ trigger.who }}", b: ["{{n1}}", "\\{{literal}}"] })).toEqual(["Fetch", "trigger", "n1"]);
  });
  it("resolves ids, labels and normalized labels", () => {
    const nodes = [{ id: "a", label: "Fetch Data" }, { id: "b", label: "Log" }];
    expect(resolveHead("a", nodes)).toEqual(["a"]);
    expect(resolveHead("Fetch Data", nodes)).toEqual(["a"]);
    expect(resolveHead("FetchData", nodes)).toEqual(["a"]);
    expect(resolveHead("Nope", nodes)).toEqual([]);
    expect(normalizeLabel("Send e-mail #2")).toBe("Sendemail2");
    expect(referenceName({ id: "a", label: "Fetch Data" }, nodes)).toBe("FetchData");
    expect(referenceName({ id: "a", label: "Log" }, [...nodes, { id: "c", label: "Log" }])).toBe("a");
  });
});

describe("template autocomplete", () => {
  it("opens only inside an unclosed {{", () => {
    expect(findOpenTemplate("Hello {{Fe", 10)).toEqual({ start: 8, query: "Fe" });
    expect(findOpenTemplate("Hello {{Fe}} x", 14)).toBeNull();
    expect(findOpenTemplate("Hello", 5)).toBeNull();
    expect(findOpenTemplate("a {{b c", 7)).toBeNull();
    expect(findOpenTemplate("\\{{x", 4)).toBeNull();
  });

  it("suggests upstream outputs from the output schema, prefix matches first", () => {
    const paths = templateSuggestions("Fetch", sources).map((s) => s.path);
    expect(paths).toContain("FetchData.data.status");
    expect(paths).toContain("FetchData.data.body.items[0].id");
    expect(paths[0]).toBe("FetchData");
    expect(templateSuggestions("trig", sources).map((s) => s.path)).toEqual(["trigger", "trigger.who"]);
    expect(templateSuggestions("approved", sources).map((s) => s.path)).toEqual(["Approve.approved"]);
    expect(templateSuggestions("", sources).length).toBeGreaterThan(5);
  });

  it("describes types and origin", () => {
    const s = templateSuggestions("FetchData.data.status", sources)[0];
    expect(s.detail).toBe("integer · Fetch Data");
  });

  it("inserts the suggestion and closes the template", () => {
    const text = "Hi {{Fe";
    const open = findOpenTemplate(text, text.length)!;
    expect(applySuggestion(text, text.length, open, { path: "FetchData.data", detail: "" })).toEqual({ text: "Hi {{FetchData.data}}", caret: 21 });
    const closed = "Hi {{Fe}} there";
    const open2 = findOpenTemplate(closed, 7)!;
    expect(applySuggestion(closed, 7, open2, { path: "FetchData", detail: "" }).text).toBe("Hi {{FetchData}} there");
  });
});
