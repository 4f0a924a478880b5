// Template references ({{Label.field}}, {{nodeId.field}}, {{trigger.x}}) and their autocomplete.
import type { JsonObject } from "../../definition/types";
import type { NodeKind } from "../../definition/nodeData";

const TEMPLATE = /(?<!\\)\{\{((?:(?!\{\{|\}\}).)*)\}\}/gs;
const NOT_IDENT = /[^0-9A-Za-z_]/g;

export const TRIGGER = "trigger";

/** `"Fetch Data"` -> `"FetchData"`: how labels are written in templates. */
export function normalizeLabel(label: string): string {
  return label.replace(NOT_IDENT, "");
}

/** The head (node name) of every template in a (nested) value. */
export function templateHeads(value: unknown): string[] {
  const heads: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === "string") {
      for (const m of v.matchAll(TEMPLATE)) {
        const inner = m[1].trim();
        const cut = inner.search(/[.[]/);
        const head = (cut === -1 ? inner : inner.slice(0, cut)).trim();
        if (head) heads.push(head);
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") Object.values(v).forEach(visit);
  };
  visit(value);
  return heads;
}

export interface NamedNode {
  id: string;
  label: string;
}

/** The names templates may use for nodes: ids, labels and labels without spaces. */
export class NameIndex {
  private ids = new Set<string>();
  private labels = new Map<string, string[]>();
  private normalized = new Map<string, string[]>();

  constructor(nodes: NamedNode[]) {
    for (const n of nodes) {
      this.ids.add(n.id);
      if (!n.label) continue;
      this.labels.set(n.label, [...(this.labels.get(n.label) ?? []), n.id]);
      const norm = normalizeLabel(n.label);
      this.normalized.set(norm, [...(this.normalized.get(norm) ?? []), n.id]);
    }
  }

  /** Which node ids a head names: an exact id wins, then exact label, then normalized label. */
  lookup(head: string): string[] {
    if (this.ids.has(head)) return [head];
    return this.labels.get(head) ?? this.normalized.get(normalizeLabel(head)) ?? [];
  }
}

export function resolveHead(head: string, nodes: NamedNode[]): string[] {
  return new NameIndex(nodes).lookup(head);
}

/** The template name a node is referred to by (its label without spaces, else its id). */
export function referenceName(node: NamedNode, all: NamedNode[]): string {
  const norm = normalizeLabel(node.label);
  if (!norm) return node.id;
  const clash = all.filter((n) => n.id !== node.id && normalizeLabel(n.label) === norm).length > 0;
  return clash || /^\d/.test(norm) ? node.id : norm;
}

// --- autocomplete ------------------------------------------------------------------------

export interface OpenTemplate {
  /** Index just after the opening `{{`. */
  start: number;
  /** What was typed since `{{`. */
  query: string;
}

/** The template being typed at `caret`: an unclosed `{{` before the caret on the same value. */
export function findOpenTemplate(text: string, caret: number): OpenTemplate | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("{{");
  if (open === -1 || (open > 0 && before[open - 1] === "\\")) return null;
  const typed = before.slice(open + 2);
  if (typed.includes("}}") || /[\s{}]/.test(typed.trim()) || typed.includes("\n")) return null;
  return { start: open + 2, query: typed.trimStart() };
}

export interface TemplateSource {
  nodeId: string;
  name: string;
  label: string;
  kind: NodeKind;
  /** JSON Schema of what the node outputs (for actions: the function's output schema). */
  outputSchema?: JsonObject | null;
}

export interface Suggestion {
  path: string;
  detail: string;
}

const MAX_DEPTH = 4;

function schemaPaths(schema: unknown, prefix: string, depth: number, out: Suggestion[], from: string): void {
  if (!schema || typeof schema !== "object" || depth > MAX_DEPTH) return;
  const s = schema as JsonObject;
  const props = s.properties as Record<string, JsonObject> | undefined;
  if (props && typeof props === "object") {
    for (const [key, sub] of Object.entries(props)) {
      const safe = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      const path = prefix + safe;
      out.push({ path, detail: `${describeType(sub)} · ${from}` });
      schemaPaths(sub, path, depth + 1, out, from);
    }
  } else if (s.type === "array" && s.items && typeof s.items === "object") {
    const path = `${prefix}[0]`;
    out.push({ path, detail: `${describeType(s.items)} · ${from}` });
    schemaPaths(s.items, path, depth + 1, out, from);
  }
}

function describeType(schema: unknown): string {
  if (!schema || typeof schema !== "object") return "any";
  const t = (schema as JsonObject).type;
  if (Array.isArray(t)) return t.join(" | ");
  return typeof t === "string" ? t : "any";
}

const FIXED_OUTPUTS: Partial<Record<NodeKind, JsonObject>> = {
  "approval-gate": {
    type: "object",
    properties: { approved: { type: "boolean" }, reason: { type: "string" }, respondedBy: { type: "string" } },
  },
  condition: { type: "object", properties: { result: { type: "boolean" } } },
};

/** Every path a node offers to templates. */
export function sourcePaths(source: TemplateSource): Suggestion[] {
  const from = source.kind === "trigger" ? "trigger input" : source.label || source.nodeId;
  const out: Suggestion[] = [{ path: source.name, detail: `${source.kind} · ${from}` }];
  if (source.kind === "action") {
    out.push({ path: `${source.name}.success`, detail: `boolean · ${from}` });
    out.push({ path: `${source.name}.data`, detail: `${describeType(source.outputSchema)} · ${from}` });
    schemaPaths(source.outputSchema, `${source.name}.data`, 1, out, from);
    out.push({ path: `${source.name}.error`, detail: `string | null · ${from}` });
  } else {
    schemaPaths(source.outputSchema ?? FIXED_OUTPUTS[source.kind], source.name, 1, out, from);
  }
  return out;
}

/** Suggestions matching what was typed: prefix matches first, then substring matches. */
export function templateSuggestions(query: string, sources: TemplateSource[], limit = 50): Suggestion[] {
  const all = sources.flatMap(sourcePaths);
  const q = query.toLowerCase();
  const starts = all.filter((s) => s.path.toLowerCase().startsWith(q));
  const contains = all.filter((s) => !s.path.toLowerCase().startsWith(q) && s.path.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, limit);
}

/** Insert a chosen suggestion, closing the template; returns the new text and caret. */
export function applySuggestion(
  text: string,
  caret: number,
  open: OpenTemplate,
  suggestion: Suggestion,
): { text: string; caret: number } {
  const after = text.slice(caret);
  const closes = after.startsWith("}}");
  const inserted = suggestion.path + (closes ? "" : "}}");
  const next = text.slice(0, open.start) + inserted + after;
  return { text: next, caret: open.start + inserted.length + (closes ? 2 : 0) };
}
