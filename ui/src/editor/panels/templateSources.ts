// What a node's templates may reference: the trigger and every upstream node, with schemas.
import { useMemo } from "react";
import type { CatalogFunction } from "../../api/types";
import type { JsonObject } from "../../definition/types";
import { upstreamOf } from "../graph/analysis";
import type { FlowEdge, FlowNode } from "../graph/convert";
import { useEditor } from "../store/context";
import { referenceName, TRIGGER, type TemplateSource } from "../templates/templates";

export function templateSources(
  nodeId: string | null,
  nodes: FlowNode[],
  edges: FlowEdge[],
  catalog: Map<string, CatalogFunction>,
): TemplateSource[] {
  const named = nodes.map((n) => ({ id: n.id, label: n.data.label }));
  const upstream = nodeId ? upstreamOf(nodeId, edges) : new Set<string>();
  const out: TemplateSource[] = [];
  const trigger = nodes.find((n) => n.data.kind === "trigger");
  out.push({
    nodeId: trigger?.id ?? TRIGGER,
    name: TRIGGER,
    label: "Trigger input",
    kind: "trigger",
    outputSchema: (trigger?.data.config as { inputSchema?: JsonObject } | undefined)?.inputSchema ?? null,
  });
  for (const n of nodes) {
    if (!upstream.has(n.id) || n.data.kind === "trigger") continue;
    const actionId = (n.data.config as { actionId?: string }).actionId;
    out.push({
      nodeId: n.id,
      name: referenceName({ id: n.id, label: n.data.label }, named),
      label: n.data.label || n.id,
      kind: n.data.kind,
      outputSchema: n.data.kind === "action" && actionId ? (catalog.get(actionId)?.outputSchema ?? null) : null,
    });
  }
  return out;
}

export function useTemplateSources(nodeId: string | null): TemplateSource[] {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const catalog = useEditor((s) => s.catalog);
  return useMemo(() => templateSources(nodeId, nodes, edges, catalog), [nodeId, nodes, edges, catalog]);
}
