// Every problem of the workflow; choosing one selects its node.
import { useMemo } from "react";
import type { Issue } from "../api/types";
import { dedupeIssues } from "./graph/issues";
import { useEditor } from "./store/context";

export function mergeIssues(client: Issue[], server: Issue[]): Issue[] {
  return dedupeIssues(client, server).sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1));
}

export function ProblemsPanel({ onFocusNode }: { onFocusNode: (id: string) => void }) {
  const client = useEditor((s) => s.clientIssues);
  const server = useEditor((s) => s.serverIssues);
  const nodes = useEditor((s) => s.nodes);
  const labels = useMemo(() => new Map(nodes.map((n) => [n.id, n.data.label])), [nodes]);
  const issues = useMemo(() => mergeIssues(client, server), [client, server]);
  const errors = issues.filter((i) => i.severity === "error").length;
  return (
    <section className="problems" aria-label="Problems">
      <h2 className="problems-head">
        Problems{" "}
        <span className={`count ${errors ? "count-error" : ""}`} data-testid="problem-count">
          {errors} errors · {issues.length - errors} warnings
        </span>
      </h2>
      {issues.length === 0 ? (
        <p className="muted small pad">No problems found.</p>
      ) : (
        <ul className="problems-list">
          {issues.map((i, k) => (
            <li key={k}>
              <button type="button" className={`problem problem-${i.severity}`} disabled={!i.nodeId} onClick={() => i.nodeId && onFocusNode(i.nodeId)}>
                <span className="problem-sev">{i.severity === "error" ? "●" : "▲"}</span>
                <span className="problem-node">{i.nodeId ? labels.get(i.nodeId) || i.nodeId : "workflow"}</span>
                <span className="problem-msg">
                  {i.field && <code>{i.field}</code>} {i.message}
                </span>
                <span className="problem-src muted small">{i.source === "server" ? "server" : "instant"}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
