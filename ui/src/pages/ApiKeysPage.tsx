// The project's API keys: for the `wfb` CLI and scripts. The secret is shown once.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { apiKeyApi, type ApiKeyCreated } from "../api/endpoints";
import { useApp, useProject } from "../app/appStore";
import { CopyButton } from "../components/CopyButton";
import { Empty, ErrorBox, Field, Modal, Spinner, StatusPill, formatShortTime, formatTime } from "../components/ui";
import { API_KEY_ROLES, canManageKeys, cliHint, keyState, sortKeys, type ApiKey } from "../members/access";

export function ApiKeysPage() {
  const project = useProject();
  const toast = useApp((s) => s.toast);
  const role = project?.project.role ?? null;
  const allowed = canManageKeys(role);
  const [items, setItems] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [keyRole, setKeyRole] = useState("editor");
  const [days, setDays] = useState("");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const projectId = project?.project.id;

  const load = useCallback(() => {
    if (!projectId || !allowed) return;
    apiKeyApi
      .list(projectId)
      .then((keys) => {
        setItems(sortKeys(keys));
        setRefused(null);
      })
      .catch((err) => {
        if (err instanceof ApiError && err.status === 403) setRefused(errorMessage(err));
        else setError(errorMessage(err));
        setItems([]);
      });
  }, [projectId, allowed]);
  useEffect(load, [load]);

  if (!project) return <div className="page"><Empty title="Choose a project first" /></div>;
  const head = (
    <header className="page-head">
      <div>
        <p className="eyebrow">{project.project.name}</p>
        <h1>API keys</h1>
        <p className="muted">
          A key lets the <code>wfb</code> command and scripts act in this project with the key&apos;s role
          (editor or above to run workflows). It is shown once, when it is created.
        </p>
      </div>
    </header>
  );
  if (!allowed || refused)
    return (
      <div className="page">
        {head}
        <Empty title="Admins only">
          <p className="muted">
            {refused ?? `API keys are managed by the project's admins and owners; your role here is ${role ?? "none"}.`}
          </p>
        </Empty>
      </div>
    );

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), role: keyRole, ...(days ? { expiresInDays: Number(days) } : {}) };
      setCreated(await apiKeyApi.create(project.project.id, body));
      setName("");
      setDays("");
      load();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (key: ApiKey) => {
    try {
      await apiKeyApi.revoke(key.id);
      toast("success", `Revoked ${key.name}`);
      setRevoking(null);
      load();
    } catch (err) {
      setRevoking(null);
      setError(errorMessage(err));
    }
  };

  return (
    <div className="page">
      {head}
      <ErrorBox error={error} />
      <div className="grid-main-side align-start">
        <div className="card card-flush">
          {items === null ? <Spinner /> : items.length === 0 ? <Empty title="No API keys yet" /> : (
            <table className="table" aria-label="API keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">State</th>
                  <th scope="col"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {items.map((k) => {
                  const state = keyState(k);
                  return (
                    <tr key={k.id} data-testid="api-key-row">
                      <td className="strong">{k.name}</td>
                      <td>{k.role}</td>
                      <td><code title="the key's public prefix">{k.prefix}…</code></td>
                      <td className="muted small nowrap" title={formatTime(k.createdAt)}>{formatShortTime(k.createdAt)}</td>
                      <td className="muted small nowrap" title={k.lastUsedAt ? formatTime(k.lastUsedAt) : undefined}>
                        {k.lastUsedAt ? formatShortTime(k.lastUsedAt) : "never"}
                      </td>
                      <td>
                        <StatusPill status={state === "active" ? "active" : state === "revoked" ? "revoked" : "expired"} />
                        {state === "revoked" && <div className="muted small nowrap">{formatShortTime(k.revokedAt)}</div>}
                        {state === "active" && k.expiresAt && <div className="muted small nowrap">until {formatShortTime(k.expiresAt)}</div>}
                      </td>
                      <td>
                        {state === "active" && (
                          <button type="button" className="btn btn-ghost btn-sm" aria-label={`Revoke ${k.name}`} onClick={() => setRevoking(k)}>
                            Revoke
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
        <form className="card stack" onSubmit={create} aria-label="Create an API key">
          <h2>Create an API key</h2>
          <Field label="Name" htmlFor="key-name" hint="Where it is used, e.g. ci or laptop.">
            <input id="key-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
          <Field label="Role" htmlFor="key-role" hint="viewer reads; editor also edits and runs; admin also deploys.">
            <select id="key-role" value={keyRole} onChange={(e) => setKeyRole(e.target.value)}>
              {API_KEY_ROLES.map((r) => (
                <option key={r} value={r}>{r}</option>
              ))}
            </select>
          </Field>
          <Field label="Expires in (days)" htmlFor="key-days" hint="Empty: never expires.">
            <input id="key-days" type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} />
          </Field>
          <div className="row-end">
            <button className="btn btn-primary" disabled={busy}>{busy ? "Creating…" : "Create key"}</button>
          </div>
        </form>
      </div>
      {created && (
        <Modal
          title="API key created"
          wide
          onClose={() => setCreated(null)}
          footer={<div className="row-end"><button type="button" className="btn btn-primary" onClick={() => setCreated(null)}>Done</button></div>}
        >
          <div className="stack">
            <p>
              <strong>{created.name}</strong> ({created.role}). Copy the key now: it is not shown again.
            </p>
            <div className="copy-row">
              <code data-testid="new-api-key">{created.key}</code>
              <CopyButton text={created.key} label="Copy key" />
            </div>
            <p className="muted small">For the CLI (<code>wfb run</code>, <code>wfb approve</code>):</p>
            <pre className="code-block" data-testid="api-key-cli-hint">{cliHint(created.key)}</pre>
            <div className="row-end"><CopyButton text={`export WFB_TOKEN=${created.key}`} label="Copy export line" /></div>
          </div>
        </Modal>
      )}
      {revoking && (
        <Modal
          title={`Revoke ${revoking.name}?`}
          onClose={() => setRevoking(null)}
          footer={
            <div className="row-end">
              <button type="button" className="btn" onClick={() => setRevoking(null)}>Cancel</button>
              <button type="button" className="btn btn-danger" onClick={() => void revoke(revoking)}>Revoke key</button>
            </div>
          }
        >
          <p>
            Scripts and CLIs using <code>{revoking.prefix}…</code> stop working: admin-api refuses it at once, services that cache
            keys within about 30 seconds. This cannot be undone.
          </p>
        </Modal>
      )}
    </div>
  );
}
