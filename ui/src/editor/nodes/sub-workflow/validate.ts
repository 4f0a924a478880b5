import type { SubWorkflowData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft } from "../types";

export function validateSubWorkflow(data: SubWorkflowData): IssueDraft[] {
  const c = data.config;
  const issues: IssueDraft[] = [];
  if (isBlank(c.workflowId)) issues.push({ field: "config.workflowId", message: "choose the workflow to run" });
  const v = c.version;
  if (v !== undefined && v !== "active" && v !== "latest" && !(Number.isInteger(v) && Number(v) >= 1))
    issues.push({ field: "config.version", message: "version is 'active', 'latest' or a version number" });
  return issues;
}
