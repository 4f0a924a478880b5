// One run: status, approvals, a live waterfall timeline, each node's input/output/error,
// rerun from a node, replay with edited trigger data.
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { errorMessage } from "../api/client";
import { runApi, workflowApi } from "../api/endpoints";
import type { RunStatus, Timeline, TimelineNode } from "../api/types";
import { useApp } from "../app/appStore";
import { JsonViewer } from "../components/JsonViewer";
import { ErrorBox, Modal, RunStatePill, Spinner, StatusPill, durationBetween, formatDuration, formatTime } from "../components/ui";
import { JsonField } from "../editor/panels/common";
import { useRunStream } from "./useRunStream";
import { waterfall } from "./waterfall";

export function RunPage() {
  const { runId } = useParams();
  const navigate = useNavigate();
  const toast = useApp((s) => s.toast);
  const [status, setStatus] = useState<RunStatus | null>(null);
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [replaying, setReplaying] = useState(false);
  const [reason, setReason] = useState("");
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const [workflowName, setWorkflowName] = useState<string | null>(null);
  const workflowId = status?.workflowId;
  useEffect(() => {
    if (workflowId) workflowApi.get(workflowId).then((w) => setWorkflowName(w.name)).catch(() => setWorkflowName(null));
  }, [workflowId]);

  const refreshTimeline = useCallback(() => {
    if (!runId) return;
    runApi.timeline(runId).then(setTimeline).catch((err) => setError(errorMessage(err)));
  }, [runId]);

  const scheduleRefresh = useCallback(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      refreshTimeline();
    }, 300);
  }, [refreshTimeline]);

  useEffect(() => {
    setStatus(null);
    setTimeline(null);
    refreshTimeline();
  }, [refreshTimeline]);

  useRunStream(runId ?? null, {
    onStatus: (s) => {
      setStatus(s);
      scheduleRefresh();
    },
    onEvent: scheduleRefresh,
    onError: (err) => setError(errorMessage(err)),
  });

  if (!runId) return null;
  const act = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      toast("success", label);
      runApi.status(runId).then(setStatus).catch(() => undefined);
      scheduleRefresh();
    } catch (err) {
      toast("error", errorMessage(err));
    }
  };

  const nodes = timeline?.nodes ?? [];
  const { bars } = waterfall(nodes);
  const chosen = nodes.find((n) => n.nodeId === selected) ?? null;
  const running = status && ["RUNNING", "PENDING", "SUSPENDED"].includes(status.runtimeStatus);
  const triggerData = status?.outputs?.trigger ?? nodes.find((n) => n.type === "trigger")?.output ?? {};

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">
            <Link to="/runs">Runs</Link> / <span className="mono">{runId}</span>
          </p>
          <h1 className="row-inline">
            {workflowName ?? "Run"} <RunStatePill runtimeStatus={status?.runtimeStatus} phase={status?.phase} />
            <span className="sr-only" data-testid="run-page-phase">{status?.phase?.replace(/_/g, " ")}</span>
          </h1>
          {status && (
            <p className="muted small">
              <Link to={`/workflows/${status.workflowId}`}>Open the workflow</Link> · started {formatTime(status.startedAt)} ·{" "}
              {formatDuration(durationBetween(status.startedAt, status.completedAt))}
              {status.message ? ` · ${status.message}` : ""}
            </p>
          )}
        </div>
        <div className="row">
          {running && (
            <>
              {status?.runtimeStatus === "SUSPENDED" ? (
                <button type="button" className="btn" onClick={() => void act("Resumed", () => runApi.control(runId, "resume"))}>Resume</button>
              ) : (
                <button type="button" className="btn" onClick={() => void act("Paused", () => runApi.control(runId, "pause"))}>Pause</button>
              )}
              <button type="button" className="btn btn-danger" onClick={() => window.confirm("Terminate this run?") && void act("Terminated", () => runApi.control(runId, "terminate"))}>
                Terminate
              </button>
            </>
          )}
          <button type="button" className="btn" onClick={() => setReplaying(true)}>Replay…</button>
        </div>
      </header>
      <ErrorBox error={error} />
      {status && (
        <div className="progress progress-lg" role="progressbar" aria-label="Progress" aria-valuenow={status.progress} aria-valuemin={0} aria-valuemax={100}>
          <div className="progress-bar" style={{ width: `${status.progress}%` }} />
        </div>
      )}
      {status?.pendingApproval && (
        <div className="approval-box card" data-testid="approval-box">
          <div>
            <strong>{nodes.find((n) => n.nodeId === status.pendingApproval!.nodeId)?.label ?? status.pendingApproval.nodeId}</strong> is waiting for approval
            {status.pendingApproval.message && <div className="muted small">{status.pendingApproval.message}</div>}
          </div>
          <label htmlFor="run-approval-reason" className="sr-only">Reason</label>
          <input id="run-approval-reason" placeholder="Reason (optional)" value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" className="btn btn-success" onClick={() => void act("Approved", () => runApi.approve(runId, status.pendingApproval!.nodeId, true, reason || undefined))}>Approve</button>
          <button type="button" className="btn btn-danger" onClick={() => void act("Rejected", () => runApi.approve(runId, status.pendingApproval!.nodeId, false, reason || undefined))}>Reject</button>
        </div>
      )}
      {status?.error != null && <div className="error-box">{typeof status.error === "string" ? status.error : JSON.stringify(status.error)}</div>}
      <div className="run-layout">
        <section className="card card-flush waterfall" aria-label="Timeline">
          <div className="waterfall-head">
            <span>Step</span>
            <span>Status</span>
            <span>Timeline</span>
          </div>
          {!timeline ? (
            <Spinner />
          ) : (
            <ol className="waterfall-rows">
              {bars.map(({ node, left, width }) => (
                <li key={node.nodeId}>
                  <button
                    type="button"
                    className={`waterfall-row ${selected === node.nodeId ? "active" : ""} row-${node.status}`}
                    onClick={() => setSelected(node.nodeId)}
                    aria-pressed={selected === node.nodeId}
                    data-testid={`timeline-${node.nodeId}`}
                  >
                    <span className="wf-step">
                      <span className="strong">{node.label || node.nodeId}</span>
                      <span className="muted small">{node.type}</span>
                    </span>
                    <span className="wf-status">
                      <StatusPill status={node.status} />
                      {(node.attempts ?? 0) > 1 && <span className="muted small"> {node.attempts} attempts</span>}
                    </span>
                    <span className="wf-track" aria-hidden="true">
                      {node.status === "skipped" ? (
                        <span className="wf-skipped">{node.reason ? `skipped: ${node.reason}` : "skipped"}</span>
                      ) : (
                        width > 0 && <span className={`wf-bar bar-${node.status}`} style={{ left: `${left * 100}%`, width: `${width * 100}%` }} />
                      )}
                    </span>
                    <span className="wf-dur muted small">{formatDuration(node.durationMs ?? durationBetween(node.startedAt, node.completedAt))}</span>
                  </button>
                </li>
              ))}
            </ol>
          )}
        </section>
        <section className="card run-detail" aria-label="Step details">
          {chosen ? (
            <NodeDetail node={chosen} onRerun={() => void act("Rerun started", async () => {
              const r = await runApi.rerun(runId, chosen.nodeId);
              navigate(`/runs/${r.instanceId}`);
            })} />
          ) : (
            <p className="muted">Choose a step to see its input, output and error.</p>
          )}
        </section>
      </div>
      {replaying && (
        <ReplayDialog
          initial={triggerData}
          onClose={() => setReplaying(false)}
          onReplay={async (data) => {
            const r = await runApi.replay(runId, data);
            setReplaying(false);
            toast("success", "Replay started");
            navigate(`/runs/${r.instanceId}`);
          }}
        />
      )}
    </div>
  );
}

function NodeDetail({ node, onRerun }: { node: TimelineNode; onRerun: () => void }) {
  return (
    <div className="stack" data-testid="node-detail">
      <div className="row">
        <h2>{node.label || node.nodeId}</h2>
        <StatusPill status={node.status} />
        <span className="spacer" />
        <button type="button" className="btn btn-sm" onClick={onRerun}>Rerun from here</button>
      </div>
      <dl className="meta">
        <dt>Started</dt><dd>{formatTime(node.startedAt)}</dd>
        <dt>Finished</dt><dd>{formatTime(node.completedAt)}</dd>
        <dt>Attempts</dt><dd>{node.attempts ?? "—"}</dd>
        {node.route && (<><dt>Route</dt><dd>{node.route}</dd></>)}
        {node.reason && (<><dt>Reason</dt><dd>{node.reason}</dd></>)}
      </dl>
      <h3>Input</h3>
      <JsonViewer value={node.input} label="Input" />
      <h3>Output</h3>
      <div data-testid="node-output"><JsonViewer value={node.output} label="Output" /></div>
      {node.error != null && (
        <>
          <h3>Error</h3>
          <JsonViewer value={node.error} label="Error" />
        </>
      )}
      {(node.attemptErrors?.length ?? 0) > 0 && (
        <>
          <h3>Failed attempts</h3>
          <JsonViewer value={node.attemptErrors} label="Failed attempts" />
        </>
      )}
      {node.compensation != null && (
        <>
          <h3>Compensation</h3>
          <JsonViewer value={node.compensation} label="Compensation" />
        </>
      )}
    </div>
  );
}

function ReplayDialog({ initial, onClose, onReplay }: { initial: unknown; onClose: () => void; onReplay: (data: unknown) => Promise<void> }) {
  const [data, setData] = useState<unknown>(initial);
  const [error, setError] = useState<string | null>(null);
  return (
    <Modal title="Replay with trigger data" onClose={onClose}>
      <div className="stack">
        <ErrorBox error={error} />
        <label htmlFor="replay-data">Trigger data (JSON)</label>
        <JsonField id="replay-data" value={data} onChange={setData} rows={10} />
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="button" className="btn btn-primary" onClick={() => onReplay(data).catch((err) => setError(errorMessage(err)))}>Replay</button>
        </div>
      </div>
    </Modal>
  );
}
