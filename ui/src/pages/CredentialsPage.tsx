// The project's credentials for integrations: names only, values are write-only.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import { credentialApi, type Credential } from "../api/endpoints";
import { useApp, useProject } from "../app/appStore";
import { Empty, ErrorBox, Spinner, formatTime } from "../components/ui";

export function CredentialsPage() {
  const project = useProject();
  const toast = useApp((s) => s.toast);
  const [items, setItems] = useState<Credential[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [integration, setIntegration] = useState("");
  const [pairs, setPairs] = useState<[string, string][]>([["apiKey", ""]]);
  const load = useCallback(() => {
    if (project) credentialApi.list(project.project.id).then(setItems).catch((err) => { setError(errorMessage(err)); setItems([]); });
  }, [project]);
  useEffect(load, [load]);
  if (!project) return <div className="page"><Empty title="Choose a project first" /></div>;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await credentialApi.create(project.project.id, { name, integrationType: integration, values: Object.fromEntries(pairs.filter(([k]) => k)) });
      toast("success", `Stored ${name}`);
      setName("");
      setPairs([["apiKey", ""]]);
      load();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">{project.project.name}</p>
          <h1>Credentials</h1>
          <p className="muted">API keys and tokens functions use. Values are encrypted and never shown again.</p>
        </div>
      </header>
      <ErrorBox error={error} />
      <div className="grid-2 align-start">
        <div className="card card-flush">
          {items === null ? <Spinner /> : items.length === 0 ? <Empty title="No credentials yet" /> : (
            <table className="table">
              <thead><tr><th scope="col">Name</th><th scope="col">Integration</th><th scope="col">Created</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
              <tbody>
                {items.map((c) => (
                  <tr key={c.id}>
                    <td className="strong">{c.name}</td>
                    <td><code>{c.integration_type}</code> <span className="muted small">{(c.field_names ?? []).join(", ")}</span></td>
                    <td className="muted small">{formatTime(c.created_at)}</td>
                    <td>
                      <button type="button" className="btn btn-ghost btn-sm" aria-label={`Delete ${c.name}`}
                        onClick={() => window.confirm(`Delete ${c.name}?`) && credentialApi.remove(project.project.id, c.id).then(load).catch((err) => toast("error", errorMessage(err)))}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <form className="card stack" onSubmit={submit} aria-label="Add a credential">
          <h2>Add a credential</h2>
          <div className="field">
            <label htmlFor="cred-name">Name</label>
            <input id="cred-name" required pattern="[a-z0-9][a-z0-9_\-]*" title="lower-case letters, digits, - and _" value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="cred-int">Integration</label>
            <input id="cred-int" required pattern="[a-z0-9][a-z0-9_\-]*" value={integration} placeholder="openai, slack, github…" onChange={(e) => setIntegration(e.target.value)} />
          </div>
          <fieldset className="fieldset">
            <legend>Values</legend>
            {pairs.map(([k, v], i) => (
              <div className="row" key={i}>
                <input aria-label={`Key ${i + 1}`} value={k} onChange={(e) => setPairs(pairs.map((p, j) => (j === i ? [e.target.value, p[1]] : p)))} />
                <input aria-label={`Value ${i + 1}`} type="password" autoComplete="off" value={v} onChange={(e) => setPairs(pairs.map((p, j) => (j === i ? [p[0], e.target.value] : p)))} />
              </div>
            ))}
            <button type="button" className="btn btn-sm" onClick={() => setPairs([...pairs, ["", ""]])}>+ Add value</button>
          </fieldset>
          <div className="row-end"><button className="btn btn-primary">Store credential</button></div>
        </form>
      </div>
    </div>
  );
}
