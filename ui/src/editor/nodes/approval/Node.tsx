import type { NodeProps } from "@xyflow/react";
import type { ApprovalData } from "../../../definition/nodeData";
import { NodeShell, type OutputHandle } from "../NodeShell";

const OUTPUTS: OutputHandle[] = [
  { id: "approved", label: "approved", tone: "ok" },
  { id: "rejected", label: "rejected", tone: "bad" },
  { id: "timeout", label: "timeout", tone: "warn" },
];

export function ApprovalNode(props: NodeProps & { data: ApprovalData }) {
  return <NodeShell {...props} outputs={OUTPUTS} />;
}
