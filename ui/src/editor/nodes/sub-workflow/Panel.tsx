import { useEffect, useState } from "react";
import { workflowApi } from "../../../api/endpoints";
import type { WorkflowSummary } from "../../../api/types";
import { useProject } from "../../../app/appStore";
import { Field } from "../../../components/ui";
import { JsonField, withKey, type PanelProps } from "../../panels/common";

export function SubWorkflowPanel({ id, data, update }: PanelProps<"sub-workflow">) {
  const project = useProject();
  const [workflows, setWorkflows] = useState<WorkflowSummary[]>([]);
  useEffect(() => {
    if (project) workflowApi.list(project.project.id).then(setWorkflows).catch(() => setWorkflows([]));
  }, [project]);
  const c = data.config;
  const version = c.version ?? "active";
  return (
    <div className="stack">
      <Field label="Workflow" htmlFor={`${id}-wf`}>
        <select id={`${id}-wf`} value={c.workflowId ?? ""} onChange={(e) => update(withKey(c, "workflowId", e.target.value))}>
          <option value="">Choose a workflow…</option>
          {c.workflowId && !workflows.some((w) => w.id === c.workflowId) && <option value={c.workflowId}>{c.workflowId}</option>}
          {workflows.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Version" htmlFor={`${id}-ver`}>
        <select id={`${id}-ver`} value={String(version)} onChange={(e) => update({ ...c, version: /^\d+$/.test(e.target.value) ? Number(e.target.value) : (e.target.value as "active" | "latest") })}>
          <option value="active">Active (deployed) version</option>
          <option value="latest">Latest saved version</option>
          {Array.from({ length: workflows.find((w) => w.id === c.workflowId)?.latestVersion ?? 0 }, (_, i) => (
            <option key={i + 1} value={String(i + 1)}>
              v{i + 1}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Input (trigger data of the child run; defaults to this run's)" htmlFor={`${id}-input`}>
        <JsonField id={`${id}-input`} value={c.input} onChange={(v) => update(withKey(c, "input", v))} />
      </Field>
    </div>
  );
}
