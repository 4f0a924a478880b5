import { Field } from "../../../components/ui";
import { TemplateInput } from "../../panels/TemplateInput";
import { numberOrUndefined, withKey, type PanelProps } from "../../panels/common";

export function ApprovalPanel({ id, data, update }: PanelProps<"approval-gate">) {
  const c = data.config;
  return (
    <div className="stack">
      <Field label="Message to the approver" htmlFor={`${id}-msg`}>
        <TemplateInput id={`${id}-msg`} multiline rows={3} value={c.message ?? ""} onChange={(v) => update(withKey(c, "message", v))} />
      </Field>
      <div className="grid-2">
        <Field label="Timeout (hours)" htmlFor={`${id}-hours`}>
          <input id={`${id}-hours`} type="number" min={0.01} step="any" value={c.timeoutHours ?? ""} placeholder="24"
            onChange={(e) => update(withKey(withKey(c, "timeoutSeconds", undefined), "timeoutHours", numberOrUndefined(e.target.value)))} />
        </Field>
        <Field label="Event name" htmlFor={`${id}-event`}>
          <input id={`${id}-event`} value={c.eventName ?? ""} placeholder={`approval_${id}`} onChange={(e) => update(withKey(c, "eventName", e.target.value))} />
        </Field>
      </div>
      <Field label="Approvers (emails, comma separated)" htmlFor={`${id}-approvers`} hint="Leave empty to let any editor of the project answer.">
        <input id={`${id}-approvers`} value={(c.approvers ?? []).join(", ")}
          onChange={(e) => update(withKey(c, "approvers", e.target.value.split(",").map((s) => s.trim()).filter(Boolean).length ? e.target.value.split(",").map((s) => s.trim()).filter(Boolean) : undefined))} />
      </Field>
      <p className="hint">Connect the <b>approved</b>, <b>rejected</b> and <b>timeout</b> handles. Unconnected rejection or timeout ends the run as rejected / timed out.</p>
    </div>
  );
}
