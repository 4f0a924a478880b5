// The node-type registry's React half: the canvas component and the config panel per kind.
import type { NodeTypes } from "@xyflow/react";
import type { ComponentType } from "react";
import type { NodeKind } from "../../definition/nodeData";
import type { PanelProps } from "../panels/common";
import { ActionNode } from "./action/Node";
import { ActionPanel } from "./action/Panel";
import { ApprovalNode } from "./approval/Node";
import { ApprovalPanel } from "./approval/Panel";
import { ConditionNode } from "./condition/Node";
import { ConditionPanel } from "./condition/Panel";
import { LoopNode } from "./loop/Node";
import { LoopPanel } from "./loop/Panel";
import { PublishEventNode } from "./publish-event/Node";
import { PublishEventPanel } from "./publish-event/Panel";
import { SubWorkflowNode } from "./sub-workflow/Node";
import { SubWorkflowPanel } from "./sub-workflow/Panel";
import { TimerNode } from "./timer/Node";
import { TimerPanel } from "./timer/Panel";
import { TriggerNode } from "./trigger/Node";
import { TriggerPanel } from "./trigger/Panel";

export const nodeTypes = {
  trigger: TriggerNode,
  action: ActionNode,
  condition: ConditionNode,
  "approval-gate": ApprovalNode,
  timer: TimerNode,
  "publish-event": PublishEventNode,
  loop: LoopNode,
  "sub-workflow": SubWorkflowNode,
} as unknown as NodeTypes;

export const nodePanels: { [K in NodeKind]: ComponentType<PanelProps<K>> } = {
  trigger: TriggerPanel,
  action: ActionPanel,
  condition: ConditionPanel,
  "approval-gate": ApprovalPanel,
  timer: TimerPanel,
  "publish-event": PublishEventPanel,
  loop: LoopPanel,
  "sub-workflow": SubWorkflowPanel,
};
