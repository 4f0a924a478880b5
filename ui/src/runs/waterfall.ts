// Geometry of the waterfall timeline and a node-by-node comparison of two runs.
import type { Timeline, TimelineNode } from "../api/types";

export interface Bar {
  node: TimelineNode;
  /** Offset and width as fractions of the whole run (0..1). */
  left: number;
  width: number;
}

export function waterfall(nodes: TimelineNode[], now = Date.now()): { bars: Bar[]; start: number; end: number } {
  const times = nodes.flatMap((n) => [n.startedAt, n.completedAt]).filter(Boolean).map((t) => Date.parse(t!));
  const start = times.length ? Math.min(...times) : now;
  const running = nodes.some((n) => n.startedAt && !n.completedAt);
  const end = Math.max(times.length ? Math.max(...times) : now, running ? now : 0, start + 1);
  const span = end - start;
  const bars = nodes.map((node) => {
    if (!node.startedAt) return { node, left: 0, width: 0 };
    const s = Date.parse(node.startedAt);
    const e = node.completedAt ? Date.parse(node.completedAt) : node.durationMs ? s + node.durationMs : now;
    return { node, left: (s - start) / span, width: Math.max((e - s) / span, 0.004) };
  });
  const order = (b: Bar) => (b.node.startedAt ? Date.parse(b.node.startedAt) : Number.MAX_SAFE_INTEGER);
  bars.sort((a, b) => order(a) - order(b));
  return { bars, start, end };
}

export interface NodeComparison {
  nodeId: string;
  label: string;
  left?: TimelineNode;
  right?: TimelineNode;
  sameStatus: boolean;
  sameOutput: boolean;
}

export function compareTimelines(left: Timeline, right: Timeline): NodeComparison[] {
  const l = new Map(left.nodes.map((n) => [n.nodeId, n]));
  const r = new Map(right.nodes.map((n) => [n.nodeId, n]));
  const ids = [...new Set([...l.keys(), ...r.keys()])];
  return ids.map((id) => {
    const a = l.get(id);
    const b = r.get(id);
    return {
      nodeId: id,
      label: a?.label ?? b?.label ?? id,
      left: a,
      right: b,
      sameStatus: a?.status === b?.status,
      sameOutput: JSON.stringify(a?.output) === JSON.stringify(b?.output),
    };
  });
}
