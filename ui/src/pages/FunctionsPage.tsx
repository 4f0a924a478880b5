// The function registry: browse by plugin, see schemas, register OCI or HTTP functions.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import { catalogApi } from "../api/endpoints";
import type { CatalogFunction } from "../api/types";
import { useApp, useProject } from "../app/appStore";
import { JsonViewer } from "../components/JsonViewer";
import { Empty, ErrorBox, Modal, Spinner } from "../components/ui";
import { JsonField } from "../editor/panels/common";
import { groupByPlugin } from "../editor/panels/FunctionPicker";

export function FunctionsPage() {
  const [functions, setFunctions] = useState<CatalogFunction[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState<CatalogFunction | null>(null);
  const [registering, setRegistering] = useState(false);
  const load = () => catalogApi.functions().then(setFunctions).catch((err) => setError(errorMessage(err)));
  useEffect(() => {
    void load();
  }, []);
  const groups = useMemo(() => {
    const q = query.toLowerCase();
    return groupByPlugin((functions ?? []).filter((f) => !q || `${f.slug} ${f.name} ${f.description ?? ""}`.toLowerCase().includes(q)));
  }, [functions, query]);
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Functions</h1>
          <p className="muted">Every step calls a function: builtin handlers, OCI containers run as Kubernetes Jobs, or HTTP webhooks.</p>
        </div>
        <button type="button" className="btn btn-primary" onClick={() => setRegistering(true)}>Register function</button>
      </header>
      <div className="filters">
        <label htmlFor="fn-search" className="sr-only">Search functions</label>
        <input id="fn-search" type="search" placeholder="Search functions" value={query} onChange={(e) => setQuery(e.target.value)} />
      </div>
      <ErrorBox error={error} />
      {!functions ? (
        !error && <Spinner />
      ) : groups.length === 0 ? (
        <Empty title="No functions match" />
      ) : (
        groups.map(([plugin, fns]) => (
          <section key={plugin} className="fn-group">
            <h2>{plugin} <span className="muted small">{fns.length}</span></h2>
            <div className="fn-grid">
              {fns.map((f) => (
                <button type="button" key={f.slug} className="fn-card" onClick={() => setOpen(f)}>
                  <div className="row-inline">
                    <strong>{f.name}</strong>
                    <span className={`tag tag-${f.executionType ?? "builtin"}`}>{f.executionType ?? "builtin"}</span>
                    {f.isDeprecated && <span className="tag tag-warn">deprecated</span>}
                  </div>
                  <code className="small">{f.slug}</code>
                  <p className="muted small clamp">{f.description}</p>
                </button>
              ))}
            </div>
          </section>
        ))
      )}
      {open && (
        <Modal title={open.name} onClose={() => setOpen(null)} wide>
          <p><code>{open.slug}</code> · {open.executionType ?? "builtin"} · v{open.version ?? "1.0.0"}</p>
          {open.description && <p className="muted">{open.description}</p>}
          <div className="grid-2">
            <div>
              <h3>Input schema</h3>
              <JsonViewer value={open.inputSchema ?? {}} />
            </div>
            <div>
              <h3>Output schema</h3>
              <JsonViewer value={open.outputSchema ?? {}} />
            </div>
          </div>
        </Modal>
      )}
      {registering && <RegisterFunctionDialog onClose={() => setRegistering(false)} onDone={() => { setRegistering(false); void load(); }} />}
    </div>
  );
}

function RegisterFunctionDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const project = useProject();
  const toast = useApp((s) => s.toast);
  const [kind, setKind] = useState<"oci" | "http">("http");
  const [form, setForm] = useState({ slug: "", name: "", description: "", imageRef: "", command: "", webhookUrl: "", webhookMethod: "POST", timeoutSeconds: "60" });
  const [inputSchema, setInputSchema] = useState<unknown>({ type: "object", properties: {} });
  const [outputSchema, setOutputSchema] = useState<unknown>({ type: "object" });
  const [error, setError] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!project) return;
    const body: Record<string, unknown> = {
      slug: form.slug,
      name: form.name,
      description: form.description || undefined,
      plugin_id: form.slug.split("/")[0],
      execution_type: kind,
      input_schema: inputSchema,
      output_schema: outputSchema,
      timeout_seconds: Number(form.timeoutSeconds) || undefined,
    };
    if (kind === "oci") {
      body.image_ref = form.imageRef;
      if (form.command.trim()) body.command = form.command.trim().split(/\s+/);
    } else {
      body.webhook_url = form.webhookUrl;
      body.webhook_method = form.webhookMethod;
    }
    try {
      await catalogApi.register(project.project.id, Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)));
      toast("success", `Registered ${form.slug}`);
      onDone();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Modal title="Register a function" onClose={onClose} wide>
      <form className="stack" onSubmit={submit}>
        <ErrorBox error={error} />
        <fieldset className="fieldset">
          <legend>Runs as</legend>
          <div className="row">
            <label className="check"><input type="radio" name="fn-kind" checked={kind === "http"} onChange={() => setKind("http")} /> HTTP webhook</label>
            <label className="check"><input type="radio" name="fn-kind" checked={kind === "oci"} onChange={() => setKind("oci")} /> OCI container (Kubernetes Job)</label>
          </div>
        </fieldset>
        <div className="grid-2">
          <div className="field">
            <label htmlFor="fn-slug">Slug (plugin/name)</label>
            <input id="fn-slug" required pattern="[a-z0-9][a-z0-9_\-]*/[a-z0-9][a-z0-9_.\-]*" value={form.slug} onChange={set("slug")} placeholder="custom/double" />
          </div>
          <div className="field">
            <label htmlFor="fn-name">Name</label>
            <input id="fn-name" required value={form.name} onChange={set("name")} />
          </div>
        </div>
        <div className="field">
          <label htmlFor="fn-desc">Description</label>
          <input id="fn-desc" value={form.description} onChange={set("description")} />
        </div>
        {kind === "oci" ? (
          <div className="grid-2">
            <div className="field">
              <label htmlFor="fn-image">Image reference</label>
              <input id="fn-image" required value={form.imageRef} onChange={set("imageRef")} placeholder="registry.example/functions/double:v1" />
            </div>
            <div className="field">
              <label htmlFor="fn-command">Command (optional)</label>
              <input id="fn-command" value={form.command} onChange={set("command")} placeholder="node index.js" />
            </div>
          </div>
        ) : (
          <div className="grid-2">
            <div className="field">
              <label htmlFor="fn-url">Webhook URL</label>
              <input id="fn-url" type="url" required value={form.webhookUrl} onChange={set("webhookUrl")} placeholder="https://api.example.com/hook" />
            </div>
            <div className="field">
              <label htmlFor="fn-method">Method</label>
              <select id="fn-method" value={form.webhookMethod} onChange={set("webhookMethod")}>
                {["POST", "PUT", "PATCH", "GET"].map((m) => <option key={m}>{m}</option>)}
              </select>
            </div>
          </div>
        )}
        <div className="field">
          <label htmlFor="fn-timeout">Timeout (seconds)</label>
          <input id="fn-timeout" type="number" min={1} value={form.timeoutSeconds} onChange={set("timeoutSeconds")} />
        </div>
        <div className="grid-2">
          <div className="field">
            <label htmlFor="fn-in">Input schema (JSON Schema)</label>
            <JsonField id="fn-in" value={inputSchema} onChange={setInputSchema} rows={8} />
          </div>
          <div className="field">
            <label htmlFor="fn-out">Output schema (JSON Schema)</label>
            <JsonField id="fn-out" value={outputSchema} onChange={setOutputSchema} rows={8} />
          </div>
        </div>
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button className="btn btn-primary">Register</button>
        </div>
      </form>
    </Modal>
  );
}
