import type { ActionConfig } from "../../../definition/nodeData";

export const actionDefaults = (): ActionConfig => ({ actionId: "" });

/** Keys of an action's config that steer execution; every other key is function input. */
export const ACTION_CONTROL_KEYS = new Set(["actionId", "retry", "timeoutSeconds", "onError", "compensate"]);

export function functionInput(config: ActionConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !ACTION_CONTROL_KEYS.has(k)));
}
