// Runs of the project, filtered; choose two to compare.
import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { errorMessage } from "../api/client";
import { runApi, workflowApi, type RunFilters } from "../api/endpoints";
import type { RunSummary, WorkflowSummary } from "../api/types";
import { useProject } from "../app/appStore";
import { Empty, ErrorBox, RunStatePill, Spinner, durationBetween, formatDuration, formatTime } from "../components/ui";

const STATUSES = ["RUNNING", "COMPLETED", "FAILED", "TERMINATED", "PENDING", "SUSPENDED"];
const PHASES = ["pending", "running", "awaiting_approval", "completed", "failed", "rejected", "timed_out", "cancelled"];

export function RunsPage() {
  const project = useProject();
  const navigate = useNavigate();
  const [filters, setFilters] = useState<RunFilters>({});
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [workflows, setWorkflows] = useState<WorkflowSummary[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (more = false) => {
      if (!project) return;
      try {
        const page = await runApi.list(project.project.id, { ...filters, cursor: more ? cursor : null, limit: 50 });
        setRuns((prev) => (more && prev ? [...prev, ...page.items] : page.items));
        setCursor(page.nextCursor ?? null);
        setError(null);
      } catch (err) {
        setError(errorMessage(err));
        setRuns([]);
      }
    },
    [project, filters, cursor],
  );

  useEffect(() => {
    setRuns(null);
    void load(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project, filters]);

  useEffect(() => {
    if (project) workflowApi.list(project.project.id).then(setWorkflows).catch(() => setWorkflows([]));
  }, [project]);

  if (!project) return <div className="page"><Empty title="Choose a project first" /></div>;
  const names = new Map(workflows.map((w) => [w.id, w.name]));
  const set = (key: keyof RunFilters) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setFilters((f) => ({ ...f, [key]: e.target.value || undefined }));

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">{project.project.name}</p>
          <h1>Runs</h1>
        </div>
        <button
          type="button"
          className="btn"
          disabled={picked.length !== 2}
          onClick={() => navigate(`/runs/compare?left=${picked[0]}&right=${picked[1]}`)}
        >
          Compare selected
        </button>
      </header>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Workflow
          <select value={filters.workflowId ?? ""} onChange={set("workflowId")}>
            <option value="">All</option>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>{w.name}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filters.status ?? ""} onChange={set("status")}>
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Phase
          <select value={filters.phase ?? ""} onChange={set("phase")}>
            <option value="">All</option>
            {PHASES.map((s) => (
              <option key={s} value={s}>{s.replace(/_/g, " ")}</option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" value={filters.from?.slice(0, 10) ?? ""} onChange={(e) => setFilters((f) => ({ ...f, from: e.target.value ? `${e.target.value}T00:00:00Z` : undefined }))} />
        </label>
        <label>
          To
          <input type="date" value={filters.to?.slice(0, 10) ?? ""} onChange={(e) => setFilters((f) => ({ ...f, to: e.target.value ? `${e.target.value}T23:59:59Z` : undefined }))} />
        </label>
      </form>
      <ErrorBox error={error} />
      {runs === null ? (
        <Spinner />
      ) : runs.length === 0 ? (
        <Empty title="No runs match">Run a workflow from its editor, or change the filters.</Empty>
      ) : (
        <div className="card card-flush">
          <table className="table">
            <thead>
              <tr>
                <th scope="col"><span className="sr-only">Compare</span></th>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Phase</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.instanceId}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select run ${r.instanceId} to compare`}
                      checked={picked.includes(r.instanceId)}
                      onChange={(e) => setPicked((p) => (e.target.checked ? [...p, r.instanceId].slice(-2) : p.filter((x) => x !== r.instanceId)))}
                    />
                  </td>
                  <td>
                    <Link to={`/runs/${r.instanceId}`} className="mono small">{r.instanceId}</Link>
                  </td>
                  <td>{names.get(r.workflowId) ?? r.workflowId}</td>
                  <td><RunStatePill runtimeStatus={r.runtimeStatus} phase={r.phase} /></td>
                  <td className="muted">{(r.phase ?? "").replace(/_/g, " ")}</td>
                  <td className="muted small">{formatTime(r.startedAt)}</td>
                  <td className="muted small">{formatDuration(durationBetween(r.startedAt, r.completedAt))}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && (
            <div className="pad center">
              <button type="button" className="btn" onClick={() => void load(true)}>Load more</button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
