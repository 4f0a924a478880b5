// The audit log (admins and owners).
import { useEffect, useState } from "react";
import { ApiError, errorMessage } from "../api/client";
import { auditApi, type AuditEntry } from "../api/endpoints";
import { useProject } from "../app/appStore";
import { Empty, ErrorBox, Spinner, formatTime } from "../components/ui";

export function AuditPage() {
  const project = useProject();
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [action, setAction] = useState("");
  const load = async (more: boolean) => {
    try {
      if (!project) return;
      const page = await auditApi.list(project.company.id, {
        action: action || undefined,
        cursor: more ? (cursor ?? undefined) : undefined,
      });
      setItems((prev) => (more && prev ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) setForbidden(true);
      else setError(errorMessage(err));
      setItems([]);
    }
  };
  useEffect(() => {
    void load(false);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [project, action]);
  if (forbidden)
    return <div className="page"><Empty title="Admins only">The audit log is readable by admins and owners of the company.</Empty></div>;
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">{project?.company.name}</p>
          <h1>Audit log</h1>
        </div>
      </header>
      <div className="filters">
        <label>
          Action
          <input value={action} placeholder="e.g. workflow.deploy or auth." onChange={(e) => setAction(e.target.value)} />
        </label>
      </div>
      <ErrorBox error={error} />
      {items === null ? <Spinner /> : items.length === 0 ? <Empty title="Nothing recorded yet" /> : (
        <div className="card card-flush">
          <table className="table">
            <thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Result</th><th scope="col">IP</th></tr></thead>
            <tbody>
              {items.map((a, i) => (
                <tr key={a.id ?? i}>
                  <td className="muted small">{formatTime(a.occurredAt)}</td>
                  <td>{a.actorLabel}</td>
                  <td><code>{a.action}</code></td>
                  <td className="small">{a.resourceType ? `${a.resourceType} ${a.resourceId ?? ""}` : ""}</td>
                  <td>{a.success === false ? <span className="pill pill-failed">failed</span> : <span className="pill pill-completed">ok</span>}</td>
                  <td className="muted small">{a.ip ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && <div className="pad center"><button type="button" className="btn" onClick={() => void load(true)}>Load more</button></div>}
        </div>
      )}
    </div>
  );
}
