import type { NodeProps } from "@xyflow/react";
import type { LoopData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function LoopNode(props: NodeProps & { data: LoopData }) {
  return <NodeShell {...props} outputs={null} />;
}
