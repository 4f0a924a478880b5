import type { NodeSpec } from "../types";
import { approvalDefaults } from "./defaults";
import { validateApproval } from "./validate";

export const approvalSpec: NodeSpec<"approval-gate"> = {
  kind: "approval-gate",
  title: "Approval gate",
  description: "Waits for a person to approve or reject",
  defaultLabel: "Approval",
  icon: "✋",
  defaults: approvalDefaults,
  validate: validateApproval,
  summary: (d) => {
    const c = d.config;
    const t = c.timeoutSeconds ? `${c.timeoutSeconds}s` : `${c.timeoutHours ?? 24}h`;
    return `waits up to ${t}`;
  },
};
