// Two runs side by side, node by node.
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { errorMessage } from "../api/client";
import { runApi } from "../api/endpoints";
import type { RunStatus } from "../api/types";
import { JsonViewer } from "../components/JsonViewer";
import { ErrorBox, Spinner, StatusPill } from "../components/ui";
import { compareTimelines, type NodeComparison } from "./waterfall";

export function RunComparePage() {
  const [params] = useSearchParams();
  const left = params.get("left") ?? "";
  const right = params.get("right") ?? "";
  const [rows, setRows] = useState<NodeComparison[] | null>(null);
  const [statuses, setStatuses] = useState<[RunStatus, RunStatus] | null>(null);
  const [server, setServer] = useState<unknown>(undefined);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([runApi.timeline(left), runApi.timeline(right), runApi.status(left), runApi.status(right)])
      .then(([a, b, sa, sb]) => {
        setRows(compareTimelines(a, b));
        setStatuses([sa, sb]);
      })
      .catch((err) => setError(errorMessage(err)));
    runApi.diff(left, right).then(setServer).catch(() => setServer(undefined));
  }, [left, right]);
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow"><Link to="/runs">Runs</Link> / compare</p>
          <h1>Compare runs</h1>
        </div>
      </header>
      <ErrorBox error={error} />
      {!rows || !statuses ? (
        !error && <Spinner />
      ) : (
        <div className="card card-flush">
          <table className="table compare">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col"><Link to={`/runs/${left}`} className="mono small">{left}</Link> <StatusPill status={statuses[0].runtimeStatus} /></th>
                <th scope="col"><Link to={`/runs/${right}`} className="mono small">{right}</Link> <StatusPill status={statuses[1].runtimeStatus} /></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.nodeId} className={r.sameStatus && r.sameOutput ? "" : "differs"}>
                  <td>
                    <strong>{r.label}</strong>
                    {!(r.sameStatus && r.sameOutput) && <div className="diff-flag">differs</div>}
                  </td>
                  {[r.left, r.right].map((n, i) => (
                    <td key={i}>
                      {n ? (
                        <>
                          <StatusPill status={n.status} />
                          <JsonViewer value={n.output ?? n.error} />
                        </>
                      ) : (
                        <span className="muted">not in this run</span>
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {server !== undefined && (
        <details className="card">
          <summary>Orchestrator diff</summary>
          <JsonViewer value={server} />
        </details>
      )}
    </div>
  );
}
