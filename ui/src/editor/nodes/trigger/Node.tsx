import type { NodeProps } from "@xyflow/react";
import type { TriggerData } from "../../../definition/nodeData";
import { NodeShell } from "../NodeShell";

export function TriggerNode(props: NodeProps & { data: TriggerData }) {
  return <NodeShell {...props} outputs={null} hasInput={false} />;
}
