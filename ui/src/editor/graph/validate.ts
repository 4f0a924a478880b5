// Instant client-side checks, shown at once while the server's full validation runs.
import type { Issue } from "../../api/types";
import type { WorkflowNodeData } from "../../definition/nodeData";
import { validateNodeData } from "../nodes/specs";
import type { ValidationContext } from "../nodes/types";
import { NameIndex, TRIGGER, templateHeads } from "../templates/templates";
import { findCycle, type EdgeLike } from "./analysis";

export interface CheckedNode {
  id: string;
  data: WorkflowNodeData;
}

function issue(code: string, message: string, nodeId: string | null, extra: Partial<Issue> = {}): Issue {
  return { code, message, nodeId, severity: "error", source: "client", ...extra };
}

export function clientIssues(nodes: CheckedNode[], edges: EdgeLike[], ctx: ValidationContext): Issue[] {
  const issues: Issue[] = [];
  const triggers = nodes.filter((n) => n.data.kind === "trigger");
  if (triggers.length === 0) issues.push(issue("missing_trigger", "the workflow has no trigger node", null));
  for (const extra of triggers.slice(1))
    issues.push(issue("multiple_triggers", `only one trigger is allowed; '${triggers[0].id}' is the trigger`, extra.id));

  const cycle = findCycle(
    nodes.map((n) => n.id),
    edges,
  );
  if (cycle) issues.push(issue("cycle", `cycle: ${cycle.join(" -> ")}`, cycle[0]));

  const labels = new Map<string, string[]>();
  for (const n of nodes) if (n.data.label) labels.set(n.data.label, [...(labels.get(n.data.label) ?? []), n.id]);
  for (const [label, ids] of labels)
    if (ids.length > 1)
      for (const id of ids)
        issues.push(
          issue("duplicate_label", `label '${label}' is shared by ${ids.join(", ")}; templates must use ids`, id, {
            severity: "warning",
          }),
        );

  const names = new NameIndex(nodes.map((n) => ({ id: n.id, label: n.data.label })));
  const graph = new GraphIndex(edges);
  const reachable = triggers.length ? new Set([triggers[0].id, ...graph.reachableFrom(triggers[0].id)]) : null;
  for (const node of nodes) {
    for (const draft of validateNodeData(node.data, ctx))
      issues.push(
        issue(draft.code ?? "invalid_config", draft.message, node.id, {
          field: draft.field ?? null,
          severity: draft.severity ?? "error",
        }),
      );
    if (reachable && !reachable.has(node.id))
      issues.push(
        issue("not_connected", "not connected to the trigger; it runs as soon as the run starts", node.id, {
          severity: "warning",
        }),
      );
    checkReferences(node, names, graph, issues);
  }
  return issues;
}

/** Adjacency built once per validation pass, with memoized ancestor sets. */
export class GraphIndex {
  private out = new Map<string, string[]>();
  private in = new Map<string, string[]>();
  private ancestors = new Map<string, Set<string>>();

  constructor(edges: EdgeLike[]) {
    for (const e of edges) {
      (this.out.get(e.source) ?? this.out.set(e.source, []).get(e.source)!).push(e.target);
      (this.in.get(e.target) ?? this.in.set(e.target, []).get(e.target)!).push(e.source);
    }
  }

  reachableFrom(id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [id];
    while (stack.length) {
      for (const next of this.out.get(stack.pop()!) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /** Every node with a path to `id` (iterative, memoized; safe on cycles). */
  upstream(id: string): Set<string> {
    const cached = this.ancestors.get(id);
    if (cached) return cached;
    const result = new Set<string>();
    const stack = [...(this.in.get(id) ?? [])];
    while (stack.length) {
      const cur = stack.pop()!;
      if (result.has(cur)) continue;
      result.add(cur);
      const known = this.ancestors.get(cur);
      if (known) for (const a of known) result.add(a);
      else stack.push(...(this.in.get(cur) ?? []));
    }
    this.ancestors.set(id, result);
    return result;
  }
}

function checkReferences(
  node: CheckedNode,
  names: NameIndex,
  graph: GraphIndex,
  issues: Issue[],
): void {
  const config = { ...node.data.config } as Record<string, unknown>;
  if (node.data.kind === "loop") delete config.body;
  const heads = new Set(templateHeads(config));
  if (node.data.kind === "condition" && typeof config.expression === "string") {
    // CEL conditions name nodes directly, e.g. Fetch.data.ok; only {{...}} are checked here.
  }
  if (!heads.size) return;
  const upstream = graph.upstream(node.id);
  for (const head of heads) {
    if (head === TRIGGER || head === "item" || head === "index") continue;
    const ids = names.lookup(head);
    if (ids.length === 0) {
      issues.push(issue("unknown_reference", `{{${head}…}} refers to an unknown node '${head}'`, node.id));
    } else if (ids.length > 1) {
      issues.push(issue("ambiguous_reference", `'${head}' names ${ids.join(", ")}; use a node id`, node.id));
    } else if (!upstream.has(ids[0])) {
      issues.push(
        issue("not_upstream", `{{${head}…}} refers to '${ids[0]}', which does not run before this node`, node.id),
      );
    }
  }
}
