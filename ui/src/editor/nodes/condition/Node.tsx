import type { NodeProps } from "@xyflow/react";
import type { ConditionData } from "../../../definition/nodeData";
import { NodeShell, type OutputHandle } from "../NodeShell";

const OUTPUTS: OutputHandle[] = [
  { id: "true", label: "true", tone: "ok" },
  { id: "false", label: "false", tone: "bad" },
];

export function ConditionNode(props: NodeProps & { data: ConditionData }) {
  return <NodeShell {...props} outputs={OUTPUTS} />;
}
