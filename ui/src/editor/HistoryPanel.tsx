// Version history: list, diff against the canvas or the previous version, restore.
import { useEffect, useState } from "react";
import { errorMessage } from "../api/client";
import { workflowApi } from "../api/endpoints";
import type { WorkflowVersion } from "../api/types";
import { diffDefinitions, diffIsEmpty, type DefinitionDiff } from "../definition/io";
import type { WorkflowDefinition } from "../definition/types";
import { ErrorBox, Modal, Spinner, formatTime } from "../components/ui";
import { useEditor } from "./store/context";

function show(v: unknown): string {
  return v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v);
}

export function DiffView({ diff }: { diff: DefinitionDiff }) {
  if (diffIsEmpty(diff)) return <p className="muted">No differences.</p>;
  return (
    <div className="diff" data-testid="version-diff">
      {diff.addedNodes.map((n) => (
        <div key={`a${n.id}`} className="diff-add">+ node {n.label || n.id} ({n.type})</div>
      ))}
      {diff.removedNodes.map((n) => (
        <div key={`r${n.id}`} className="diff-del">− node {n.label || n.id} ({n.type})</div>
      ))}
      {diff.changedNodes.map((n) => (
        <div key={`c${n.id}`} className="diff-change">
          ~ node {n.label || n.id}
          <ul>
            {n.changes.map((c) => (
              <li key={c.path}>
                <code>{c.path}</code>: <span className="diff-del-inline">{show(c.before)}</span> → <span className="diff-add-inline">{show(c.after)}</span>
              </li>
            ))}
          </ul>
        </div>
      ))}
      {diff.addedEdges.map((e, i) => (
        <div key={`ae${i}`} className="diff-add">+ edge {e.source} → {e.target}{e.sourceHandle ? ` (${e.sourceHandle})` : ""}</div>
      ))}
      {diff.removedEdges.map((e, i) => (
        <div key={`re${i}`} className="diff-del">− edge {e.source} → {e.target}{e.sourceHandle ? ` (${e.sourceHandle})` : ""}</div>
      ))}
      {diff.meta.map((c) => (
        <div key={c.path} className="diff-change">~ {c.path}: {show(c.before)} → {show(c.after)}</div>
      ))}
    </div>
  );
}

export function HistoryPanel({
  workflowId,
  onClose,
  onRestore,
}: {
  workflowId: string;
  onClose: () => void;
  onRestore: (version: number, definition: WorkflowDefinition) => Promise<void>;
}) {
  const [versions, setVersions] = useState<WorkflowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState<number | null>(null);
  const [against, setAgainst] = useState<"canvas" | "previous">("canvas");
  const [diff, setDiff] = useState<DefinitionDiff | null>(null);
  const current = useEditor((s) => s.toDefinition);

  useEffect(() => {
    workflowApi
      .versions(workflowId)
      .then((v) => setVersions([...v].sort((a, b) => b.version - a.version)))
      .catch((err) => setError(errorMessage(err)));
  }, [workflowId]);

  useEffect(() => {
    if (chosen === null) return;
    let cancelled = false;
    (async () => {
      const picked = await workflowApi.version(workflowId, chosen);
      const base =
        against === "canvas"
          ? current()
          : chosen > 1
            ? (await workflowApi.version(workflowId, chosen - 1)).definition!
            : { ...picked.definition!, nodes: [], edges: [] };
      if (!cancelled) setDiff(against === "canvas" ? diffDefinitions(picked.definition!, base) : diffDefinitions(base, picked.definition!));
    })().catch((err) => setError(errorMessage(err)));
    return () => {
      cancelled = true;
    };
  }, [chosen, against, workflowId, current]);

  return (
    <Modal title="Version history" onClose={onClose} wide>
      <ErrorBox error={error} />
      {!versions ? (
        <Spinner />
      ) : (
        <div className="history">
          <ul className="history-list" aria-label="Versions">
            {versions.map((v) => (
              <li key={v.version}>
                <button type="button" className={`history-item ${chosen === v.version ? "active" : ""}`} onClick={() => setChosen(v.version)} aria-pressed={chosen === v.version}>
                  <strong>v{v.version}</strong> <span>{v.message || "no message"}</span>
                  <span className="muted small">
                    {v.author ? `${v.author} · ` : ""}
                    {formatTime(v.createdAt)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          <div className="history-detail">
            {chosen === null ? (
              <p className="muted">Choose a version to see what changed.</p>
            ) : (
              <>
                <div className="row">
                  <label htmlFor="diff-against">Compare v{chosen} with</label>
                  <select id="diff-against" value={against} onChange={(e) => setAgainst(e.target.value as "canvas" | "previous")}>
                    <option value="canvas">the canvas now</option>
                    <option value="previous">the version before it</option>
                  </select>
                  <span className="spacer" />
                  <button
                    type="button"
                    className="btn btn-primary btn-sm"
                    onClick={async () => {
                      const v = await workflowApi.version(workflowId, chosen);
                      await onRestore(chosen, v.definition!);
                    }}
                  >
                    Restore v{chosen}
                  </button>
                </div>
                {diff ? <DiffView diff={diff} /> : <Spinner />}
              </>
            )}
          </div>
        </div>
      )}
    </Modal>
  );
}
