import { Field } from "../../../components/ui";
import { numberOrUndefined, type PanelProps } from "../../panels/common";
import { DURATION_UNITS } from "./defaults";

const FORMS = ["durationSeconds", "durationMinutes", "durationHours", "duration", "durationUnit", "until"];

export function TimerPanel({ id, data, update }: PanelProps<"timer">) {
  const c = data.config;
  const rest = Object.fromEntries(Object.entries(c).filter(([k]) => !FORMS.includes(k)));
  const mode = c.until !== undefined ? "until" : "duration";
  // Normalize the seed's durationSeconds/Minutes/Hours into the editor's duration + unit.
  const amount = c.duration ?? c.durationSeconds ?? c.durationMinutes ?? c.durationHours ?? "";
  const unit = c.durationUnit ?? (c.durationSeconds !== undefined ? "seconds" : c.durationHours !== undefined ? "hours" : "minutes");
  return (
    <div className="stack">
      <fieldset className="fieldset">
        <legend>Wait</legend>
        <label className="check">
          <input type="radio" name={`${id}-mode`} checked={mode === "duration"} onChange={() => update({ ...rest, duration: 5, durationUnit: "minutes" })} /> for a duration
        </label>
        <label className="check">
          <input type="radio" name={`${id}-mode`} checked={mode === "until"} onChange={() => update({ ...rest, until: "" })} /> until a time
        </label>
      </fieldset>
      {mode === "duration" ? (
        <div className="grid-2">
          <Field label="Duration" htmlFor={`${id}-amount`}>
            <input id={`${id}-amount`} type="number" min={0} step="any" value={String(amount)}
              onChange={(e) => update({ ...rest, duration: numberOrUndefined(e.target.value) ?? e.target.value, durationUnit: unit })} />
          </Field>
          <Field label="Unit" htmlFor={`${id}-unit`}>
            <select id={`${id}-unit`} value={unit} onChange={(e) => update({ ...rest, duration: amount === "" ? 1 : amount, durationUnit: e.target.value })}>
              {DURATION_UNITS.map((u) => (
                <option key={u}>{u}</option>
              ))}
            </select>
          </Field>
        </div>
      ) : (
        <Field label="Until (ISO date-time or template)" htmlFor={`${id}-until`} hint="e.g. 2026-12-24T09:00:00Z or {{trigger.remindAt}}">
          <input id={`${id}-until`} className="mono" value={c.until ?? ""} onChange={(e) => update({ ...rest, until: e.target.value })} />
        </Field>
      )}
    </div>
  );
}
