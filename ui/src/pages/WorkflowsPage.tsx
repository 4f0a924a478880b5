// The project's workflows: status, versions, last run; create and import.
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { errorMessage } from "../api/client";
import { workflowApi } from "../api/endpoints";
import type { RunSummary, WorkflowSummary } from "../api/types";
import { useApp, useProject } from "../app/appStore";
import { parseDefinitionText, slugify, starterDefinition } from "../definition/io";
import type { WorkflowDefinition } from "../definition/types";
import { Empty, ErrorBox, Modal, RunStatePill, Spinner, StatusPill, formatTime } from "../components/ui";

type Row = WorkflowSummary & { lastRun: RunSummary | null };

export async function createWorkflow(projectId: string, name: string, definition: WorkflowDefinition, message: string, description?: string) {
  return workflowApi.create(projectId, name, { ...definition, name: definition.name || name }, { message, description });
}

export function WorkflowsPage() {
  const project = useProject();
  const toast = useApp((s) => s.toast);
  const navigate = useNavigate();
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    if (!project) return;
    try {
      setRows(await workflowApi.list(project.project.id));
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [project]);

  useEffect(() => {
    setRows(null);
    void load();
  }, [load]);

  if (!project)
    return (
      <div className="page">
        <Empty title="No project yet">
          <p>Create a project to start building workflows.</p>
          <Link className="btn btn-primary" to="/setup">
            Create a project
          </Link>
        </Empty>
      </div>
    );

  const importFile = async (file: File) => {
    try {
      const def = parseDefinitionText(await file.text());
      const name = def.name || file.name.replace(/\.(json|ya?ml)$/i, "");
      const wf = await createWorkflow(project.project.id, name, def, `Imported from ${file.name}`);
      toast("success", `Imported ${name}`);
      navigate(`/workflows/${wf.id}`);
    } catch (err) {
      toast("error", `Import failed: ${errorMessage(err)}`);
    }
  };

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">
            {project.company.name} / {project.organization.name}
          </p>
          <h1>{project.project.name} · Workflows</h1>
        </div>
        <div className="row">
          <input
            ref={fileRef}
            type="file"
            accept=".json,.yaml,.yml,application/json"
            hidden
            aria-label="Import a workflow file"
            data-testid="import-workflow-file"
            onChange={(e) => {
              const f = e.target.files?.[0];
              e.target.value = "";
              if (f) void importFile(f);
            }}
          />
          <button type="button" className="btn" onClick={() => fileRef.current?.click()}>
            Import
          </button>
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            New workflow
          </button>
        </div>
      </header>
      <ErrorBox error={error} />
      {rows === null && !error ? (
        <Spinner />
      ) : rows && rows.length === 0 ? (
        <Empty title="No workflows yet">
          <p>Design one on the canvas, or import a JSON/YAML definition.</p>
          <button type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            New workflow
          </button>
        </Empty>
      ) : (
        <div className="card card-flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col">Last run</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {rows?.map((w) => (
                <tr key={w.id}>
                  <td>
                    <Link to={`/workflows/${w.id}`} className="strong">
                      {w.name}
                    </Link>
                    {w.description && <div className="muted small">{String(w.description)}</div>}
                  </td>
                  <td>
                    <StatusPill status={w.status} />
                  </td>
                  <td className="muted">
                    {w.latestVersion ? `v${w.latestVersion}` : "unsaved"}
                    {w.activeVersion ? ` · active v${w.activeVersion}` : ""}
                  </td>
                  <td>
                    {w.lastRun ? (
                      <Link to={`/runs/${w.lastRun.instanceId}`} className="row-inline">
                        <RunStatePill runtimeStatus={w.lastRun.runtimeStatus} phase={w.lastRun.phase} />
                        <span className="muted small">{formatTime(w.lastRun.startedAt)}</span>
                      </Link>
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td className="muted small">{formatTime(w.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <NewWorkflowDialog
          onClose={() => setCreating(false)}
          onCreate={async (name, description) => {
            const wf = await createWorkflow(project.project.id, name, starterDefinition(slugify(name), name), "Created", description || undefined);
            navigate(`/workflows/${wf.id}`);
          }}
        />
      )}
    </div>
  );
}

function NewWorkflowDialog({ onClose, onCreate }: { onClose: () => void; onCreate: (name: string, description: string) => Promise<void> }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await onCreate(name.trim(), description.trim());
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="New workflow" onClose={onClose}>
      <form className="stack" onSubmit={submit}>
        <ErrorBox error={error} />
        <div className="field">
          <label htmlFor="wf-name">Name</label>
          <input id="wf-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="wf-desc">Description</label>
          <textarea id="wf-desc" rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy || !name.trim()}>
            {busy ? "Creating…" : "Create and open"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
