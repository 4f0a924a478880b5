import type { JsonObject } from "../../../definition/types";
import { Field } from "../../../components/ui";
import { JsonField, numberOrUndefined, withKey, type PanelProps } from "../../panels/common";

const FIELD_TYPES = ["string", "number", "integer", "boolean", "object", "array"] as const;

function SchemaFields({ schema, onChange }: { schema: JsonObject | undefined; onChange: (s: JsonObject) => void }) {
  const props = ((schema?.properties ?? {}) as Record<string, JsonObject>);
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  const entries = Object.entries(props);
  const write = (next: [string, JsonObject][], req: Set<string>) =>
    onChange({ ...(schema ?? {}), type: "object", properties: Object.fromEntries(next), required: [...req].filter((r) => next.some(([k]) => k === r)) });
  return (
    <div className="schema-fields">
      {entries.length === 0 && <p className="muted small">No input fields: runs start with empty trigger data.</p>}
      {entries.map(([name, sub], i) => (
        <div className="schema-field-row" key={i}>
          <input
            aria-label={`Input field ${i + 1} name`}
            value={name}
            onChange={(e) => {
              const next = [...entries];
              next[i] = [e.target.value, sub];
              const req = new Set(required);
              if (req.delete(name)) req.add(e.target.value);
              write(next, req);
            }}
          />
          <select
            aria-label={`Input field ${name} type`}
            value={String(sub.type ?? "string")}
            onChange={(e) => {
              const next = [...entries];
              next[i] = [name, { ...sub, type: e.target.value }];
              write(next, required);
            }}
          >
            {FIELD_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          <label className="check">
            <input
              type="checkbox"
              checked={required.has(name)}
              onChange={(e) => {
                const req = new Set(required);
                if (e.target.checked) req.add(name);
                else req.delete(name);
                write(entries, req);
              }}
            />
            required
          </label>
          <button type="button" className="icon-btn" aria-label={`Remove input field ${name}`} onClick={() => write(entries.filter((_, j) => j !== i), required)}>
            ×
          </button>
        </div>
      ))}
      <button
        type="button"
        className="btn btn-sm"
        onClick={() => {
          let n = entries.length + 1;
          while (props[`field${n}`]) n++;
          write([...entries, [`field${n}`, { type: "string" }]], required);
        }}
      >
        + Add input field
      </button>
    </div>
  );
}

export function TriggerPanel({ id, data, update }: PanelProps<"trigger">) {
  const c = data.config;
  const type = c.triggerType ?? "manual";
  return (
    <div className="stack">
      <Field label="Trigger type" htmlFor={`${id}-type`}>
        <select id={`${id}-type`} value={type} onChange={(e) => update(withKey(c, "triggerType", e.target.value))}>
          <option value="manual">Manual (Run button, API, CLI)</option>
          <option value="webhook">Webhook</option>
          <option value="schedule">Schedule</option>
          <option value="event">Pub/sub event</option>
        </select>
      </Field>
      {type === "schedule" && (
        <>
          <Field label="Cron expression" htmlFor={`${id}-cron`} hint="minute hour day-of-month month day-of-week, e.g. 0 2 * * *">
            <input id={`${id}-cron`} className="mono" value={c.cron ?? ""} onChange={(e) => update(withKey(c, "cron", e.target.value))} />
          </Field>
          <Field label="Or every N seconds" htmlFor={`${id}-interval`}>
            <input id={`${id}-interval`} type="number" min={1} value={c.intervalSeconds ?? ""} onChange={(e) => update(withKey(c, "intervalSeconds", numberOrUndefined(e.target.value)))} />
          </Field>
          <Field label="Time zone" htmlFor={`${id}-tz`}>
            <input id={`${id}-tz`} value={c.timezone ?? ""} placeholder="UTC" onChange={(e) => update(withKey(c, "timezone", e.target.value))} />
          </Field>
        </>
      )}
      {type === "event" && (
        <>
          <Field label="Topic" htmlFor={`${id}-topic`}>
            <input id={`${id}-topic`} value={c.topic ?? ""} onChange={(e) => update(withKey(c, "topic", e.target.value))} />
          </Field>
          <Field label="Pub/sub component" htmlFor={`${id}-pubsub`}>
            <input id={`${id}-pubsub`} value={c.pubsubName ?? ""} placeholder="pubsub" onChange={(e) => update(withKey(c, "pubsubName", e.target.value))} />
          </Field>
          <Field label="Filter (CEL over the CloudEvent)" htmlFor={`${id}-filter`}>
            <input id={`${id}-filter`} className="mono" value={c.filter ?? ""} onChange={(e) => update(withKey(c, "filter", e.target.value))} />
          </Field>
        </>
      )}
      {type === "webhook" && <p className="muted small">Once deployed, the workflow gets a signed webhook URL; the body becomes the trigger data.</p>}
      <fieldset className="fieldset">
        <legend>Input fields</legend>
        <SchemaFields schema={c.inputSchema} onChange={(s) => update({ ...c, inputSchema: s })} />
      </fieldset>
      <details>
        <summary>Input schema (JSON Schema)</summary>
        <JsonField id={`${id}-schema`} value={c.inputSchema} onChange={(v) => update(withKey(c, "inputSchema", v))} rows={8} />
      </details>
    </div>
  );
}
