// Starting a run from the editor, and the live overlay banner with approvals.
import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/client";
import { runApi } from "../api/endpoints";
import { useApp } from "../app/appStore";
import type { JsonObject } from "../definition/types";
import { ErrorBox, Modal, RunStatePill } from "../components/ui";
import { useRunStream } from "../runs/useRunStream";
import { FunctionForm } from "./panels/FunctionForm";
import { useEditor } from "./store/context";

export function TriggerDataForm({ schema, value, onChange, idPrefix }: { schema: JsonObject | undefined; value: unknown; onChange: (v: unknown) => void; idPrefix: string }) {
  const hasFields = schema && Object.keys((schema.properties as object) ?? {}).length > 0;
  if (!hasFields) return <p className="muted small">This workflow's trigger declares no input fields; it starts with empty data.</p>;
  return <FunctionForm schema={schema} value={value} idPrefix={idPrefix} onChange={onChange} />;
}

export function RunDialog({
  onClose,
  onStart,
  dirty,
}: {
  onClose: () => void;
  onStart: (triggerData: unknown, saveMessage: string | null) => Promise<void>;
  dirty: boolean;
}) {
  const trigger = useEditor((s) => s.nodes.find((n) => n.data.kind === "trigger"));
  const schema = (trigger?.data.config as { inputSchema?: JsonObject } | undefined)?.inputSchema;
  const [data, setData] = useState<unknown>({});
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [details, setDetails] = useState<Array<Record<string, unknown>>>([]);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onStart(data ?? {}, dirty ? message || "Save before run" : null);
    } catch (err) {
      setError(errorMessage(err));
      const problem = (err as { problem?: { errors?: Array<Record<string, unknown>> } }).problem;
      setDetails(problem?.errors ?? []);
      setBusy(false);
    }
  };
  return (
    <Modal title="Run workflow" onClose={onClose}>
      <form className="stack" onSubmit={submit}>
        <ErrorBox error={error} />
        {details.length > 0 && (
          <ul className="issue-list">
            {details.map((d, i) => (
              <li key={i} className="issue issue-error">
                {String(d.nodeId ?? d.field ?? d.pointer ?? "")} {String(d.message ?? "")}
              </li>
            ))}
          </ul>
        )}
        <fieldset className="fieldset">
          <legend>Trigger data</legend>
          <TriggerDataForm schema={schema} value={data} onChange={setData} idPrefix="run" />
        </fieldset>
        {dirty && (
          <div className="field">
            <label htmlFor="run-save-message">You have unsaved changes; they are saved as a new version first. Message</label>
            <input id="run-save-message" value={message} placeholder="Save before run" onChange={(e) => setMessage(e.target.value)} />
          </div>
        )}
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy}>
            {busy ? "Starting…" : dirty ? "Save and run" : "Run"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function RunBanner() {
  const run = useEditor((s) => s.run);
  const applyEvent = useEditor((s) => s.applyRunEvent);
  const applyStatus = useEditor((s) => s.applyRunStatus);
  const clear = useEditor((s) => s.clearRun);
  const nodes = useEditor((s) => s.nodes);
  const labels = useMemo(() => new Map(nodes.map((n) => [n.id, n.data.label])), [nodes]);
  const toast = useApp((s) => s.toast);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  useRunStream(run?.instanceId ?? null, { onEvent: applyEvent, onStatus: applyStatus });
  if (!run) return null;
  const answer = async (approved: boolean) => {
    if (!run.pendingApproval) return;
    setBusy(true);
    try {
      await runApi.approve(run.instanceId, run.pendingApproval.nodeId, approved, reason || undefined);
      toast("success", approved ? "Approved" : "Rejected");
      setReason("");
    } catch (err) {
      toast("error", errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="run-banner" role="region" aria-label="Live run" data-testid="run-banner">
      <div className="run-banner-main">
        <RunStatePill runtimeStatus={run.runtimeStatus} phase={run.phase} />
        <span className="sr-only" data-testid="run-phase">
          {run.phase.replace(/_/g, " ")}
        </span>
        <div className="progress" role="progressbar" aria-valuenow={run.progress} aria-valuemin={0} aria-valuemax={100} aria-label="Progress">
          <div className="progress-bar" style={{ width: `${run.progress}%` }} />
        </div>
        <span className="muted small">{Math.round(run.progress)}%</span>
        {run.currentNodeIds.length > 0 && (
          <span className="muted small">now: {run.currentNodeIds.map((id) => labels.get(id) || id).join(", ")}</span>
        )}
        <span className="spacer" />
        <Link className="btn btn-sm" to={`/runs/${run.instanceId}`}>
          Open run
        </Link>
        <button type="button" className="icon-btn" aria-label="Close run overlay" onClick={clear}>
          ×
        </button>
      </div>
      {run.pendingApproval && (
        <div className="approval-box" data-testid="approval-box">
          <div>
            <strong>{labels.get(run.pendingApproval.nodeId) || run.pendingApproval.nodeId}</strong> is waiting for approval
            {run.pendingApproval.message && <div className="muted small">{run.pendingApproval.message}</div>}
          </div>
          <label htmlFor="approval-reason" className="sr-only">
            Reason
          </label>
          <input id="approval-reason" placeholder="Reason (optional)" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" className="btn btn-success" disabled={busy} onClick={() => void answer(true)}>
            Approve
          </button>
          <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void answer(false)}>
            Reject
          </button>
        </div>
      )}
      {run.error != null && run.runtimeStatus === "FAILED" && <div className="error-box small">{typeof run.error === "string" ? run.error : JSON.stringify(run.error)}</div>}
    </div>
  );
}
