import type { ApprovalData } from "../../../definition/nodeData";
import type { IssueDraft } from "../types";

export function validateApproval(data: ApprovalData): IssueDraft[] {
  const c = data.config;
  const issues: IssueDraft[] = [];
  for (const key of ["timeoutHours", "timeoutSeconds"] as const)
    if (c[key] !== undefined && c[key] !== null && !(Number(c[key]) > 0))
      issues.push({ field: `config.${key}`, message: "the timeout must be positive" });
  if (c.eventName !== undefined && c.eventName !== "" && !/^[A-Za-z0-9_.:-]{1,200}$/.test(c.eventName))
    issues.push({ field: "config.eventName", message: "event names use letters, digits, _ . : -" });
  return issues;
}
