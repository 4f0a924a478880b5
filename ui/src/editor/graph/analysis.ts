// Graph queries and connection rules for the canvas. Edges are the truth.
import type { Connection } from "@xyflow/react";
import { sourceHandles, type CanonicalType } from "../../definition/types";

export interface EdgeLike {
  source: string;
  target: string;
  sourceHandle?: string | null;
}
export interface NodeLike {
  id: string;
  data: { kind: CanonicalType };
}

function adjacency(edges: EdgeLike[], reverse = false): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const e of edges) {
    const [from, to] = reverse ? [e.target, e.source] : [e.source, e.target];
    const list = map.get(from);
    if (list) list.push(to);
    else map.set(from, [to]);
  }
  return map;
}

function walk(start: string, adj: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(adj.get(start) ?? [])];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(adj.get(id) ?? []));
  }
  return seen;
}

/** Every node with a path to `nodeId` (its possible template sources). */
export function upstreamOf(nodeId: string, edges: EdgeLike[]): Set<string> {
  return walk(nodeId, adjacency(edges, true));
}

export function downstreamOf(nodeId: string, edges: EdgeLike[]): Set<string> {
  return walk(nodeId, adjacency(edges));
}

/** Whether adding source -> target closes a cycle (target already reaches source). */
export function wouldCreateCycle(edges: EdgeLike[], source: string, target: string): boolean {
  if (source === target) return true;
  return downstreamOf(target, edges).has(source);
}

/** The first cycle found, as a path `a -> b -> a`, or null. */
export function findCycle(ids: string[], edges: EdgeLike[]): string[] | null {
  const adj = adjacency(edges);
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    state.set(id, 1);
    stack.push(id);
    for (const next of adj.get(id) ?? []) {
      if (state.get(next) === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 2);
    return null;
  };
  for (const id of ids) {
    if (!state.has(id)) {
      const found = visit(id);
      if (found) return found;
    }
  }
  return null;
}

export type ConnectionCheck = { ok: true } | { ok: false; reason: string };

/** The connection rules: typed handles, no edges into a trigger, no duplicates, no cycles. */
export function checkConnection(
  connection: Pick<Connection, "source" | "target"> & { sourceHandle?: string | null },
  nodes: NodeLike[],
  edges: EdgeLike[],
): ConnectionCheck {
  const { source, target } = connection;
  const handle = connection.sourceHandle ?? null;
  const from = nodes.find((n) => n.id === source);
  const to = nodes.find((n) => n.id === target);
  if (!from || !to) return { ok: false, reason: "both ends must be nodes on the canvas" };
  if (source === target) return { ok: false, reason: "a node cannot connect to itself" };
  if (to.data.kind === "trigger") return { ok: false, reason: "a trigger cannot have incoming edges" };
  const handles = sourceHandles(from.data.kind);
  if (handles && (!handle || !handles.includes(handle)))
    return { ok: false, reason: `connect from one of the ${handles.join(" / ")} handles` };
  if (!handles && handle) return { ok: false, reason: `this node has no '${handle}' output` };
  if (edges.some((e) => e.source === source && e.target === target && (e.sourceHandle ?? null) === handle))
    return { ok: false, reason: "these nodes are already connected" };
  if (wouldCreateCycle(edges, source, target)) return { ok: false, reason: "that edge would create a cycle" };
  return { ok: true };
}
