import type { NodeProps } from "@xyflow/react";
import type { ActionData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function ActionNode(props: NodeProps & { data: ActionData }) {
  return <NodeShell {...props} outputs={null} />;
}
