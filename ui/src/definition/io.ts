// Import/export of definitions as JSON or YAML, and a structural diff of two definitions.
import { parse, stringify } from "yaml";
import type { SerializedEdge, SerializedNode, WorkflowDefinition } from "./types";

export class ImportError extends Error {}

export function parseDefinitionText(text: string): WorkflowDefinition {
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new ImportError(`not valid JSON or YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new ImportError("a definition must be an object");
  const def = data as WorkflowDefinition;
  if (!Array.isArray(def.nodes)) throw new ImportError("a definition needs a 'nodes' list");
  if (def.edges !== undefined && !Array.isArray(def.edges)) throw new ImportError("'edges' must be a list");
  for (const [i, n] of def.nodes.entries())
    if (!n || typeof n !== "object" || typeof n.id !== "string" || typeof n.type !== "string")
      throw new ImportError(`node #${i + 1} needs a string 'id' and 'type'`);
  return {
    ...def,
    id: String(def.id ?? "imported"),
    name: def.name ?? "",
    version: def.version ?? "1.0.0",
    edges: def.edges ?? [],
    executionOrder: def.executionOrder ?? [],
  };
}

export function toJson(def: WorkflowDefinition): string {
  return `${JSON.stringify(def, null, 2)}\n`;
}

export function toYaml(def: WorkflowDefinition): string {
  return stringify(def, { lineWidth: 0 });
}

export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
      .slice(0, 60) || "workflow"
  );
}

export function starterDefinition(id: string, name: string): WorkflowDefinition {
  return {
    id,
    name,
    version: "1.0.0",
    nodes: [
      {
        id: "trigger",
        type: "trigger",
        label: "Start",
        enabled: true,
        position: { x: 80, y: 200 },
        config: { triggerType: "manual", inputSchema: { type: "object", properties: {}, required: [] } },
      },
    ],
    edges: [],
    executionOrder: ["trigger"],
  };
}

// --- diff -------------------------------------------------------------------------------

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface DefinitionDiff {
  addedNodes: SerializedNode[];
  removedNodes: SerializedNode[];
  changedNodes: { id: string; label: string; changes: FieldChange[] }[];
  addedEdges: SerializedEdge[];
  removedEdges: SerializedEdge[];
  meta: FieldChange[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value);
}

function fieldChanges(before: unknown, after: unknown, prefix = ""): FieldChange[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before, prefix, a);
  flatten(after, prefix, b);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => !same(a.get(k), b.get(k))).map((k) => ({ path: k, before: a.get(k), after: b.get(k) }));
}

const edgeKey = (e: SerializedEdge) => `${e.source}->${e.target}:${e.sourceHandle ?? ""}`;

/** What changed from `before` to `after`: nodes by id (positions ignored), edges by endpoints. */
export function diffDefinitions(before: WorkflowDefinition, after: WorkflowDefinition): DefinitionDiff {
  const left = new Map(before.nodes.map((n) => [n.id, n]));
  const right = new Map(after.nodes.map((n) => [n.id, n]));
  const strip = (n: SerializedNode) => {
    const { position: _p, ...rest } = n;
    return rest;
  };
  const changedNodes = after.nodes
    .filter((n) => left.has(n.id))
    .map((n) => ({ id: n.id, label: n.label, changes: fieldChanges(strip(left.get(n.id)!), strip(n)) }))
    .filter((c) => c.changes.length);
  const leftEdges = new Map((before.edges ?? []).map((e) => [edgeKey(e), e]));
  const rightEdges = new Map((after.edges ?? []).map((e) => [edgeKey(e), e]));
  return {
    addedNodes: after.nodes.filter((n) => !left.has(n.id)),
    removedNodes: before.nodes.filter((n) => !right.has(n.id)),
    changedNodes,
    addedEdges: [...rightEdges].filter(([k]) => !leftEdges.has(k)).map(([, e]) => e),
    removedEdges: [...leftEdges].filter(([k]) => !rightEdges.has(k)).map(([, e]) => e),
    meta: fieldChanges({ name: before.name, metadata: before.metadata }, { name: after.name, metadata: after.metadata }),
  };
}

export function diffIsEmpty(d: DefinitionDiff): boolean {
  return !d.addedNodes.length && !d.removedNodes.length && !d.changedNodes.length && !d.addedEdges.length && !d.removedEdges.length && !d.meta.length;
}
