import type { CatalogFunction } from "../api/types";
import type { WorkflowDefinition } from "../definition/types";

export const catalog: CatalogFunction[] = [
  {
    slug: "system/http-request",
    name: "HTTP Request",
    pluginId: "system",
    inputSchema: {
      type: "object",
      properties: { url: { type: "string" }, method: { type: "string", enum: ["GET", "POST"] } },
      required: ["url"],
    },
    outputSchema: {
      type: "object",
      properties: { status: { type: "integer" }, body: { type: "object", properties: { items: { type: "array", items: { type: "object", properties: { id: { type: "string" } } } } } } },
    },
  },
  { slug: "system/log", name: "Log", pluginId: "system", inputSchema: { type: "object", properties: { message: { type: "string" } } } },
];

export function chain(): WorkflowDefinition {
  return {
    id: "wf",
    name: "Chain",
    version: "1.0.0",
    nodes: [
      { id: "t", type: "trigger", label: "Start", enabled: true, position: { x: 0, y: 0 }, config: { triggerType: "manual", inputSchema: { type: "object", properties: { who: { type: "string" } } } } },
      { id: "a", type: "action", label: "Fetch Data", enabled: true, position: { x: 200, y: 0 }, config: { actionId: "system/http-request", url: "https://x/{{trigger.who}}" } },
      { id: "g", type: "approval-gate", label: "Approve", enabled: true, position: { x: 400, y: 0 }, config: { timeoutHours: 1 } },
      { id: "b", type: "activity", label: "Log", enabled: true, position: { x: 600, y: 0 }, config: { actionId: "system/log", message: "{{FetchData.data.status}}" }, notes: "kept" },
    ],
    edges: [
      { id: "e1", source: "t", target: "a" },
      { id: "e2", source: "a", target: "g" },
      { id: "e3", source: "g", target: "b", sourceHandle: "approved" },
    ],
    executionOrder: ["t", "a", "g", "b"],
    metadata: { tags: ["demo"] },
  };
}
