// The look shared by every node: icon, label, summary, validation marker, run status.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, type ReactNode } from "react";
import type { WorkflowNodeData } from "../../definition/nodeData";
import { useEditor } from "../store/context";
import { NodeIcon } from "./NodeIcon";
import { specOf, summarize } from "./specs";

export interface OutputHandle {
  id: string;
  label: string;
  tone: "ok" | "bad" | "warn" | "neutral";
}

function useNodeIssues(id: string): { errors: number; warnings: number; first?: string } {
  const key = useEditor((s) => s.issueMarks.get(id) ?? "0|0|");
  const [errors, warnings, ...rest] = key.split("|");
  return { errors: Number(errors), warnings: Number(warnings), first: rest.join("|") || undefined };
}

function ShellImpl({ id, data, selected, outputs, hasInput = true, children }: NodeProps & {
  data: WorkflowNodeData;
  outputs: OutputHandle[] | null;
  hasInput?: boolean;
  children?: ReactNode;
}) {
  const spec = specOf(data.kind);
  const issues = useNodeIssues(id);
  const status = useEditor((s) => s.run?.nodeStatus[id]);
  const current = useEditor((s) => s.run?.currentNodeIds.includes(id) ?? false);
  const attempts = useEditor((s) => s.run?.attempts[id] ?? 0);
  const summary = useEditor((s) => summarize(data, { catalog: s.catalog, catalogLoaded: s.catalogLoaded }));
  const classes = [
    "wf-node",
    `wf-node-${data.kind}`,
    selected ? "is-selected" : "",
    data.enabled ? "" : "is-disabled",
    issues.errors ? "has-errors" : issues.warnings ? "has-warnings" : "",
    status ? `run-${status}` : "",
    current ? "is-current" : "",
  ].join(" ");
  return (
    <div className={classes} data-testid={`node-${id}`} data-node-label={data.label} data-run-status={status ?? ""} aria-label={`${spec.title} ${data.label}`}>
      {hasInput && <Handle type="target" position={Position.Left} className="wf-handle wf-handle-in" aria-label={`${data.label} input`} />}
      <div className="wf-node-head">
        <span className="wf-node-icon" aria-hidden="true">
          <NodeIcon kind={data.kind} />
        </span>
        <div className="wf-node-titles">
          <div className="wf-node-kind">{spec.title}</div>
          <div className="wf-node-label">{data.label || id}</div>
        </div>
        {(issues.errors > 0 || issues.warnings > 0) && (
          <span
            className={`wf-node-badge ${issues.errors ? "badge-error" : "badge-warning"}`}
            title={issues.first}
            data-testid={`node-issues-${id}`}
            aria-label={`${issues.errors} errors, ${issues.warnings} warnings: ${issues.first}`}
          >
            {issues.errors || issues.warnings}
          </span>
        )}
        {status && (
          <span className={`wf-node-status status-${status}`} aria-label={`status ${status}`}>
            {status === "running" && attempts > 1 ? `retry ${attempts - 1}` : status}
          </span>
        )}
      </div>
      <div className="wf-node-summary" title={summary}>
        {summary}
      </div>
      {children}
      {outputs === null ? (
        <Handle type="source" position={Position.Right} className="wf-handle wf-handle-out" aria-label={`${data.label} output`} />
      ) : (
        <div className="wf-node-outputs">
          {outputs.map((h) => (
            <div key={h.id} className={`wf-out wf-out-${h.tone}`}>
              <span>{h.label}</span>
              <Handle
                type="source"
                id={h.id}
                position={Position.Right}
                className={`wf-handle wf-handle-out tone-${h.tone}`}
                aria-label={`${data.label} ${h.label} output`}
                data-handleid={h.id}
              />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

export const NodeShell = memo(ShellImpl);
