import type { NodeProps } from "@xyflow/react";
import type { TimerData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function TimerNode(props: NodeProps & { data: TimerData }) {
  return <NodeShell {...props} outputs={null} />;
}
