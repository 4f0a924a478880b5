// The workflow definition format of seed 003, exactly (camelCase JSON).

export const NODE_TYPES = [
  "trigger",
  "action",
  "activity",
  "condition",
  "approval-gate",
  "timer",
  "publish-event",
  "loop",
  "for-each",
  "sub-workflow",
] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** The canonical type whose semantics an alias shares. */
export type CanonicalType = Exclude<NodeType, "activity" | "for-each">;

export function canonicalType(type: string): CanonicalType | null {
  if (type === "activity") return "action";
  if (type === "for-each") return "loop";
  return (NODE_TYPES as readonly string[]).includes(type) ? (type as CanonicalType) : null;
}

export type JsonObject = Record<string, unknown>;

export interface Position {
  x: number;
  y: number;
}

export interface SerializedNode {
  id: string;
  type: string;
  label: string;
  description?: string;
  enabled: boolean;
  position: Position;
  config: JsonObject;
  [extra: string]: unknown;
}

export interface SerializedEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
  [extra: string]: unknown;
}

export interface DefinitionMetadata {
  description?: string;
  author?: string;
  tags?: string[];
  [extra: string]: unknown;
}

export interface WorkflowDefinition {
  id: string;
  name: string;
  version: string;
  nodes: SerializedNode[];
  edges: SerializedEdge[];
  executionOrder: string[];
  metadata?: DefinitionMetadata;
  [extra: string]: unknown;
}

export const CONDITION_HANDLES = ["true", "false"] as const;
export const APPROVAL_HANDLES = ["approved", "rejected", "timeout"] as const;

/** The output handles of a node type; `null` means one untyped output. */
export function sourceHandles(type: CanonicalType): readonly string[] | null {
  if (type === "condition") return CONDITION_HANDLES;
  if (type === "approval-gate") return APPROVAL_HANDLES;
  return null;
}
