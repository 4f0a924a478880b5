// The node-type registry's pure half: defaults, validation and summaries per kind.
import type { DataOf, NodeKind, WorkflowNodeData } from "../../definition/nodeData";
import { actionSpec } from "./action";
import { approvalSpec } from "./approval";
import { conditionSpec } from "./condition";
import { loopSpec } from "./loop";
import { publishEventSpec } from "./publish-event";
import { subWorkflowSpec } from "./sub-workflow";
import { timerSpec } from "./timer";
import { triggerSpec } from "./trigger";
import type { IssueDraft, NodeSpec, ValidationContext } from "./types";

export const NODE_SPECS: { [K in NodeKind]: NodeSpec<K> } = {
  trigger: triggerSpec,
  action: actionSpec,
  condition: conditionSpec,
  "approval-gate": approvalSpec,
  timer: timerSpec,
  "publish-event": publishEventSpec,
  loop: loopSpec,
  "sub-workflow": subWorkflowSpec,
};

export const PALETTE_ORDER: NodeKind[] = [
  "trigger",
  "action",
  "condition",
  "approval-gate",
  "timer",
  "publish-event",
  "loop",
  "sub-workflow",
];

export function specOf<K extends NodeKind>(kind: K): NodeSpec<K> {
  return NODE_SPECS[kind] as NodeSpec<K>;
}

export function validateNodeData(data: WorkflowNodeData, ctx: ValidationContext): IssueDraft[] {
  const spec = specOf(data.kind) as NodeSpec<typeof data.kind>;
  return spec.validate(data as DataOf<typeof data.kind>, ctx);
}

export function summarize(data: WorkflowNodeData, ctx: ValidationContext): string {
  const spec = specOf(data.kind) as NodeSpec<typeof data.kind>;
  return spec.summary(data as DataOf<typeof data.kind>, ctx);
}

export function newNodeData(kind: NodeKind, label: string): WorkflowNodeData {
  return { kind, label, enabled: true, config: specOf(kind).defaults() } as WorkflowNodeData;
}
