import type { NodeSpec } from "../types";
import { subWorkflowDefaults } from "./defaults";
import { validateSubWorkflow } from "./validate";

export const subWorkflowSpec: NodeSpec<"sub-workflow"> = {
  kind: "sub-workflow",
  title: "Sub-workflow",
  description: "Runs another saved workflow as a child run",
  defaultLabel: "Sub-workflow",
  icon: "⧉",
  defaults: subWorkflowDefaults,
  validate: validateSubWorkflow,
  summary: (d) => (d.config.workflowId ? `${d.config.workflowId} @ ${d.config.version ?? "active"}` : "no workflow"),
};
