import type { NodeProps } from "@xyflow/react";
import type { PublishEventData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function PublishEventNode(props: NodeProps & { data: PublishEventData }) {
  return <NodeShell {...props} outputs={null} />;
}
