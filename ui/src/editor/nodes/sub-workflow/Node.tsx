import type { NodeProps } from "@xyflow/react";
import type { SubWorkflowData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function SubWorkflowNode(props: NodeProps & { data: SubWorkflowData }) {
  return <NodeShell {...props} outputs={null} />;
}
