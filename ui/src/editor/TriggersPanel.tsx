// The workflow's triggers as admin-api runs them: state per trigger, the public webhook URL
// with its secret (admins reveal and rotate it), an example signed request, recent firings.
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/client";
import { triggerApi } from "../api/endpoints";
import type { Firing, TriggerState, WorkflowSummary } from "../api/types";
import { findProject, useApp } from "../app/appStore";
import { CopyButton } from "../components/CopyButton";
import { ErrorBox, Modal, Spinner, StatusPill, formatTime } from "../components/ui";
import type { JsonObject } from "../definition/types";
import { curlExample, exampleBody, relativeTime, webhookUrl, type WebhookInfo } from "../triggers/webhook";
import { useEditor } from "./store/context";

const ADMIN_ROLES = new Set(["admin", "owner"]);
const AUTH_TEXT = {
  hmac: "HMAC-SHA256 signature (X-WFB-Timestamp, X-WFB-Signature)",
  bearer: "Bearer secret (Authorization header)",
  none: "None: anyone with the URL can start runs",
};

function TriggerRows({ rows }: { rows: TriggerState[] }) {
  return (
    <table className="table" data-testid="trigger-state">
      <thead>
        <tr>
          <th>Trigger</th>
          <th>State</th>
          <th>Version</th>
          <th>Last fired</th>
          <th>Next fire</th>
          <th>Last error</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr key={t.id} data-testid="trigger-row">
            <td>
              <strong>{t.kind}</strong> <span className="muted small">node <code>{t.nodeId}</code></span>
            </td>
            <td>
              <StatusPill status={t.active ? "active" : "inactive"} />
            </td>
            <td className="small">
              {t.version ? `v${t.version}` : "—"}
              {t.generation ? <span className="muted"> · gen {t.generation}</span> : null}
            </td>
            <td className="small" title={formatTime(t.lastFiredAt)}>
              {t.lastFiredAt ? relativeTime(t.lastFiredAt) : "never"}
            </td>
            <td className="small" title={formatTime(t.nextFireAt)}>
              {t.nextFireAt ? `${formatTime(t.nextFireAt)} (${relativeTime(t.nextFireAt)})` : "—"}
            </td>
            <td className="small">
              {t.lastError ? (
                <span className="field-error" title={formatTime(t.lastErrorAt)}>
                  {t.lastError}
                </span>
              ) : (
                "—"
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SecretControls({ workflowId, isAdmin, onSecret }: { workflowId: string; isAdmin: boolean; onSecret: () => void }) {
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!isAdmin) return <p className="muted small">Project admins can reveal and rotate the secret.</p>;
  const act = async (rotate: boolean) => {
    if (rotate && !window.confirm("Rotate the secret? Senders using the current one are refused from now on.")) return;
    setBusy(true);
    setError(null);
    try {
      setSecret(rotate ? await triggerApi.rotateSecret(workflowId) : await triggerApi.revealSecret(workflowId));
      onSecret();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <ErrorBox error={error} />
      {secret && (
        <div className="copy-row">
          <code className="secret" data-testid="webhook-secret">
            {secret}
          </code>
          <CopyButton text={secret} label="Copy secret" />
        </div>
      )}
      <div className="row-inline">
        <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void act(false)}>
          Reveal secret
        </button>
        <button type="button" className="btn btn-sm btn-danger" disabled={busy} onClick={() => void act(true)}>
          Rotate secret
        </button>
        <span className="muted small">Both are recorded in the audit log.</span>
      </div>
    </div>
  );
}

function WebhookSection({
  workflowId,
  info,
  row,
  schema,
  isAdmin,
  onSecret,
}: {
  workflowId: string;
  info: WebhookInfo;
  row: TriggerState | undefined;
  schema: JsonObject | undefined;
  isAdmin: boolean;
  onSecret: () => void;
}) {
  const url = webhookUrl(window.location.origin, workflowId, info.path ?? row?.webhookPath);
  const example = curlExample(url, info.auth, exampleBody(schema));
  const webhook = (row?.config?.webhook ?? {}) as JsonObject;
  return (
    <section className="stack" aria-label="Webhook">
      <h3>Webhook</h3>
      <div className="copy-row">
        <code className="webhook-url" data-testid="webhook-url">
          {url}
        </code>
        <CopyButton text={url} label="Copy URL" />
      </div>
      <dl className="kv small">
        <dt>Authentication</dt>
        <dd data-testid="webhook-auth">{AUTH_TEXT[info.auth]}</dd>
        <dt>Answer</dt>
        <dd>
          {(info.mode ?? webhook.mode) === "sync"
            ? `waits up to ${webhook.syncTimeoutSeconds ?? 30} s for the run and returns its result (202 if longer)`
            : "202 with instanceId and firingId at once"}
        </dd>
        <dt>Secret</dt>
        <dd>{info.auth === "none" ? "not used" : info.hasSecret ? "set" : "not created yet"}</dd>
      </dl>
      {info.auth !== "none" && <SecretControls workflowId={workflowId} isAdmin={isAdmin} onSecret={onSecret} />}
      <details open>
        <summary>Example request</summary>
        <div className="stack">
          {info.auth === "hmac" && (
            <p className="small">
              Sign <code>&lt;timestamp&gt;.&lt;raw body&gt;</code> with HMAC-SHA256 and the secret; send the Unix time in{" "}
              <code>X-WFB-Timestamp</code> and <code>sha256=&lt;hex digest&gt;</code> in <code>X-WFB-Signature</code>. Requests more than{" "}
              {String(webhook.toleranceSeconds ?? 300)} s off the server's clock, or repeating a signature, are refused (401).
            </p>
          )}
          <p className="small muted">
            The JSON body (query parameters fill in keys it lacks) must match the trigger's input schema (422 otherwise). Send an{" "}
            <code>Idempotency-Key</code> header to make retries safe.
          </p>
          <pre className="code-block" data-testid="webhook-example">
            {`export WFB_WEBHOOK_SECRET=...   # the secret above\n${example}`}
          </pre>
          <div>
            <CopyButton text={example} label="Copy example" />
          </div>
        </div>
      </details>
    </section>
  );
}

function Firings({ workflowId, tick }: { workflowId: string; tick: number }) {
  const [items, setItems] = useState<Firing[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = await triggerApi.firings(workflowId, after);
        setItems((prev) => (after && prev ? [...prev, ...page.items] : page.items));
        setCursor(page.nextCursor ?? null);
      } catch (err) {
        setError(errorMessage(err));
      }
    },
    [workflowId],
  );
  useEffect(() => {
    void load(null);
  }, [load, tick]);
  return (
    <section className="stack" aria-label="Recent firings">
      <h3>Recent firings</h3>
      <ErrorBox error={error} />
      {items === null && !error && <Spinner label="Loading firings" />}
      {items && items.length === 0 && <p className="muted small">No firings yet.</p>}
      {items && items.length > 0 && (
        <table className="table" data-testid="firings">
          <thead>
            <tr>
              <th>Fired</th>
              <th>Kind</th>
              <th>Outcome</th>
              <th>Run</th>
              <th>Occurrence</th>
            </tr>
          </thead>
          <tbody>
            {items.map((f) => (
              <tr key={f.id} data-testid="firing-row">
                <td className="small" title={formatTime(f.firedAt)}>
                  {relativeTime(f.firedAt)}
                </td>
                <td className="small">{f.kind}</td>
                <td>
                  <StatusPill status={f.status} />
                  {f.error && <div className="field-error small">{f.error}</div>}
                </td>
                <td className="small mono">{f.instanceId ? <Link to={`/runs/${f.instanceId}`}>{f.instanceId}</Link> : "—"}</td>
                <td className="small mono muted">{f.occurrenceKey ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" className="btn btn-sm" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}

export function TriggersPanel({ workflow, onClose }: { workflow: WorkflowSummary; onClose: () => void }) {
  const [rows, setRows] = useState<TriggerState[] | null>(null);
  const [webhook, setWebhook] = useState<WebhookInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const role = useApp((s) => findProject(s.companies, workflow.projectId)?.project.role);
  const canvasSchema = useEditor((s) => {
    const trigger = s.nodes.find((n) => n.data.kind === "trigger");
    return trigger?.data.kind === "trigger" ? trigger.data.config.inputSchema : undefined;
  });
  useEffect(() => {
    triggerApi
      .list(workflow.id)
      .then(async (found) => {
        setRows(found);
        if (found.some((t) => t.kind === "webhook")) setWebhook(await triggerApi.webhook(workflow.id));
      })
      .catch((err) => setError(errorMessage(err)));
  }, [workflow.id, tick]);
  const hook = rows?.find((t) => t.kind === "webhook");
  const schema = (hook?.config?.inputSchema as JsonObject | undefined) ?? canvasSchema;
  return (
    <Modal title="Triggers" onClose={onClose} wide>
      <div className="stack triggers-panel" data-testid="triggers-panel">
        <div className="row-between">
          <span className="muted small">The triggers of the active version, as the platform runs them.</span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setTick((t) => t + 1)}>
            Refresh
          </button>
        </div>
        <ErrorBox error={error} />
        {rows === null && !error && <Spinner label="Loading triggers" />}
        {rows && rows.length === 0 && (
          <p className="muted">
            {workflow.status === "deployed"
              ? "The active version starts only manually (Run button, API, wfb run)."
              : "Nothing fires until the workflow is deployed: deploying activates the triggers of its active version."}
          </p>
        )}
        {rows && rows.length > 0 && <TriggerRows rows={rows} />}
        {webhook && (
          <WebhookSection workflowId={workflow.id} info={webhook} row={hook} schema={schema} isAdmin={ADMIN_ROLES.has(role ?? "")}
            onSecret={() => setWebhook((w) => (w ? { ...w, hasSecret: true } : w))}
          />
        )}
        <Firings workflowId={workflow.id} tick={tick} />
      </div>
    </Modal>
  );
}
