import type { TriggerConfig } from "../../../definition/nodeData";

export const triggerDefaults = (): TriggerConfig => ({
  triggerType: "manual",
  inputSchema: { type: "object", properties: {}, required: [] },
});
