// Instant client-side checks, shown at once while the server's full validation runs.
import type { Issue } from "../../api/types";
import type { WorkflowNodeData } from "../../definition/nodeData";
import { validateNodeData } from "../nodes/specs";
import type { ValidationContext } from "../nodes/types";
import { TRIGGER, resolveHead, templateHeads } from "../templates/templates";
import { findCycle, upstreamOf, type EdgeLike } from "./analysis";

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

  const named = nodes.map((n) => ({ id: n.id, label: n.data.label }));
  const reachable = triggers.length ? new Set([triggers[0].id, ...downstream(triggers[0].id, edges)]) : null;
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
    checkReferences(node, named, edges, issues);
  }
  return issues;
}

function downstream(id: string, edges: EdgeLike[]): Set<string> {
  const out = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const e of edges)
      if (e.source === cur && !out.has(e.target)) {
        out.add(e.target);
        stack.push(e.target);
      }
  }
  return out;
}

function checkReferences(
  node: CheckedNode,
  named: { id: string; label: string }[],
  edges: EdgeLike[],
  issues: Issue[],
): void {
  const config = { ...node.data.config } as Record<string, unknown>;
  if (node.data.kind === "loop") delete config.body;
  const heads = new Set(templateHeads(config));
  if (node.data.kind === "condition" && typeof config.expression === "string") {
    // CEL conditions name nodes directly, e.g. Fetch.data.ok; only {{...}} are checked here.
  }
  if (!heads.size) return;
  const upstream = upstreamOf(node.id, edges);
  for (const head of heads) {
    if (head === TRIGGER || head === "item" || head === "index") continue;
    const ids = resolveHead(head, named);
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
