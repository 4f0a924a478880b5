// Auto-layout with dagre: left-to-right layers, routing handles kept readable.
import dagre from "@dagrejs/dagre";
import type { EdgeLike } from "./analysis";

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 72;

export function autoLayout<N extends { id: string; position: { x: number; y: number } }>(
  nodes: N[],
  edges: EdgeLike[],
): N[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 48, ranksep: 90, marginx: 40, marginy: 40 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return nodes.map((n) => {
    const p = g.node(n.id);
    return p ? { ...n, position: { x: Math.round(p.x - NODE_WIDTH / 2), y: Math.round(p.y - NODE_HEIGHT / 2) } } : n;
  });
}
