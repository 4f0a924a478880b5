// Line icons per node kind (inline SVG: no icon font, no emoji font needed).
import type { NodeKind } from "../../definition/nodeData";

const PATHS: Record<NodeKind | "function", string> = {
  trigger: "M6 4l10 6-10 6z",
  action: "M11 2L4 11h5l-1 7 7-9h-5z",
  function: "M11 2L4 11h5l-1 7 7-9h-5z",
  condition: "M10 2l8 8-8 8-8-8z",
  "approval-gate": "M4 10l4 4 8-9",
  timer: "M10 5v5l3 2M10 18a8 8 0 100-16 8 8 0 000 16z",
  "publish-event": "M3 8v4h3l6 4V4L6 8zM15 7a4 4 0 010 6",
  loop: "M4 9a6 6 0 0110.5-4M16 11a6 6 0 01-10.5 4M14 2v3h-3M6 18v-3h3",
  "sub-workflow": "M3 4h7v5H3zM10 11h7v5h-7zM6.5 9v4.5H10",
};

export function NodeIcon({ kind, size = 16 }: { kind: NodeKind | "function"; size?: number }) {
  const filled = kind === "trigger" || kind === "action" || kind === "function";
  return (
    <svg width={size} height={size} viewBox="0 0 20 20" aria-hidden="true" focusable="false"
      fill={filled ? "currentColor" : "none"} stroke="currentColor" strokeWidth={filled ? 0 : 1.8} strokeLinecap="round" strokeLinejoin="round">
      <path d={PATHS[kind]} />
    </svg>
  );
}
