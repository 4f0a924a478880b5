import type { SubWorkflowConfig } from "../../../definition/nodeData";

export const subWorkflowDefaults = (): SubWorkflowConfig => ({ workflowId: "", version: "active" });
