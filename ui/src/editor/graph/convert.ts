// Definition (seed 003 JSON) <-> canvas nodes and edges, lossless for fields we do not model.
import { Position, type Edge, type Node } from "@xyflow/react";
import type { WorkflowNodeData } from "../../definition/nodeData";
import {
  canonicalType,
  sourceHandles,
  type CanonicalType,
  type JsonObject,
  type SerializedEdge,
  type SerializedNode,
  type WorkflowDefinition,
} from "../../definition/types";

export type FlowNode = Node<WorkflowNodeData>;
export type FlowEdge = Edge;

const NODE_KEYS = new Set(["id", "type", "label", "description", "enabled", "position", "config"]);
const EDGE_KEYS = new Set(["id", "source", "target", "sourceHandle", "targetHandle"]);

export class DefinitionError extends Error {}

function pickExtra(source: Record<string, unknown>, known: Set<string>): JsonObject | undefined {
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(source)) if (!known.has(key)) extra[key] = value;
  return Object.keys(extra).length ? extra : undefined;
}

const WIDTH = 220;
const BODY = 68;
const OUTPUT_ROW = 20;
const HANDLE = 11;

/**
 * The size and handle positions a node will have once drawn. With them React Flow can fit
 * the view and skip off-screen nodes before measuring anything (a large workflow opens
 * without drawing every node first); the estimates are dropped once a node is measured.
 */
export function initialSize(kind: string): Pick<FlowNode, "initialWidth" | "initialHeight" | "handles"> {
  const outputs = sourceHandles((canonicalType(kind) ?? "action") as CanonicalType);
  const height = BODY + (outputs ? 9 + outputs.length * OUTPUT_ROW : 0);
  const half = HANDLE / 2;
  const handles: NonNullable<FlowNode["handles"]> = [];
  if (kind !== "trigger")
    handles.push({ type: "target", position: Position.Left, x: -half, y: height / 2 - half, width: HANDLE, height: HANDLE });
  if (outputs)
    outputs.forEach((id, i) =>
      handles.push({ id, type: "source", position: Position.Right, x: WIDTH - half, y: BODY + 5 + i * OUTPUT_ROW + OUTPUT_ROW / 2 - half, width: HANDLE, height: HANDLE }),
    );
  else handles.push({ type: "source", position: Position.Right, x: WIDTH - half, y: height / 2 - half, width: HANDLE, height: HANDLE });
  return { initialWidth: WIDTH, initialHeight: height, handles };
}

export function nodeToFlow(node: SerializedNode): FlowNode {
  const kind = canonicalType(node.type);
  if (!kind) throw new DefinitionError(`node ${node.id} has unknown type ${JSON.stringify(node.type)}`);
  const data = {
    kind,
    label: node.label ?? "",
    description: node.description,
    enabled: node.enabled !== false,
    config: { ...(node.config ?? {}) },
    extra: pickExtra(node, NODE_KEYS),
  } as WorkflowNodeData;
  if (node.type === "activity" || node.type === "for-each") (data as { alias?: string }).alias = node.type;
  return {
    id: node.id,
    type: kind,
    position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 },
    data,
    ...initialSize(kind),
  };
}

export function edgeToFlow(edge: SerializedEdge, index: number): FlowEdge {
  const id = edge.id || `e-${edge.source}-${edge.target}-${edge.sourceHandle ?? "out"}-${index}`;
  const out: FlowEdge = { id, source: edge.source, target: edge.target };
  if (edge.sourceHandle) out.sourceHandle = edge.sourceHandle;
  if (edge.targetHandle) out.targetHandle = edge.targetHandle;
  if (edge.sourceHandle) out.label = edge.sourceHandle;
  const extra = pickExtra(edge, EDGE_KEYS);
  if (extra) out.data = { extra };
  return out;
}

export function flowNodeToSerialized(node: FlowNode): SerializedNode {
  const data = node.data;
  const type = (data as { alias?: string }).alias ?? data.kind;
  const out: SerializedNode = {
    ...(data.extra ?? {}),
    id: node.id,
    type,
    label: data.label,
    enabled: data.enabled,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
    config: { ...data.config },
  };
  if (data.description) out.description = data.description;
  return out;
}

export function flowEdgeToSerialized(edge: FlowEdge): SerializedEdge {
  const extra = (edge.data as { extra?: JsonObject } | undefined)?.extra ?? {};
  const out: SerializedEdge = { ...extra, id: edge.id, source: edge.source, target: edge.target };
  if (edge.sourceHandle) out.sourceHandle = edge.sourceHandle;
  if (edge.targetHandle) out.targetHandle = edge.targetHandle;
  return out;
}

export interface WorkflowMeta {
  id: string;
  name: string;
  version: string;
  metadata?: WorkflowDefinition["metadata"];
  extra?: JsonObject;
}

const DEF_KEYS = new Set(["id", "name", "version", "nodes", "edges", "executionOrder", "metadata"]);

export function definitionToFlow(def: WorkflowDefinition): {
  meta: WorkflowMeta;
  nodes: FlowNode[];
  edges: FlowEdge[];
} {
  if (!def || typeof def !== "object") throw new DefinitionError("a definition must be a JSON object");
  if (!Array.isArray(def.nodes)) throw new DefinitionError("a definition needs a 'nodes' array");
  const edges = Array.isArray(def.edges) ? def.edges : [];
  return {
    meta: {
      id: String(def.id ?? ""),
      name: String(def.name ?? ""),
      version: String(def.version ?? "1.0.0"),
      metadata: def.metadata,
      extra: pickExtra(def, DEF_KEYS),
    },
    nodes: def.nodes.map(nodeToFlow),
    edges: edges.map(edgeToFlow),
  };
}

export function flowToDefinition(meta: WorkflowMeta, nodes: FlowNode[], edges: FlowEdge[]): WorkflowDefinition {
  const serialized = nodes.map(flowNodeToSerialized);
  const def: WorkflowDefinition = {
    ...(meta.extra ?? {}),
    id: meta.id,
    name: meta.name,
    version: meta.version,
    nodes: serialized,
    edges: edges.map(flowEdgeToSerialized),
    executionOrder: topologicalOrder(
      serialized.map((n) => n.id),
      edges,
    ),
  };
  if (meta.metadata) def.metadata = meta.metadata;
  return def;
}

/** Kahn's order for `executionOrder` (informational: edges are the truth). */
export function topologicalOrder(ids: string[], edges: Pick<FlowEdge, "source" | "target">[]): string[] {
  const indegree = new Map(ids.map((id) => [id, 0]));
  const out = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!indegree.has(e.source) || !indegree.has(e.target)) continue;
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
    out.get(e.source)!.push(e.target);
  }
  const queue = ids.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (queue.length) {
    const id = queue.shift()!;
    order.push(id);
    for (const next of out.get(id) ?? []) {
      const d = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, d);
      if (d === 0) queue.push(next);
    }
  }
  return order.length === ids.length ? order : ids;
}
