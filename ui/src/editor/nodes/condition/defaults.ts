import type { ConditionConfig } from "../../../definition/nodeData";

export const conditionDefaults = (): ConditionConfig => ({ expression: "" });
