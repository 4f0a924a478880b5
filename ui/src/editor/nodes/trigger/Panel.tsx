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

let zones: string[] | null = null;
function timeZones(): string[] {
  zones ??= typeof Intl.supportedValuesOf === "function" ? ["UTC", ...Intl.supportedValuesOf("timeZone")] : ["UTC"];
  return zones;
}

type Config = PanelProps<"trigger">["data"]["config"];
type Webhook = NonNullable<Config["webhook"]>;

function withWebhook(c: Config, key: Extract<keyof Webhook, string>, value: unknown): Config {
  const webhook = withKey({ ...(c.webhook ?? {}) }, key, value);
  return withKey(c, "webhook", Object.keys(webhook).length ? webhook : undefined);
}

function ScheduleFields({ id, c, update }: { id: string; c: Config; update: (c: Config) => void }) {
  return (
    <>
      <Field label="Cron expression" htmlFor={`${id}-cron`} hint="minute hour day-of-month month day-of-week (optional 6th: seconds), e.g. 0 2 * * *">
        <input id={`${id}-cron`} className="mono" value={c.cron ?? ""} onChange={(e) => update(withKey(c, "cron", e.target.value))} />
      </Field>
      <Field label="Or every N seconds" htmlFor={`${id}-interval`}>
        <input id={`${id}-interval`} type="number" min={1} value={c.intervalSeconds ?? ""} onChange={(e) => update(withKey(c, "intervalSeconds", numberOrUndefined(e.target.value)))} />
      </Field>
      <Field label="Time zone" htmlFor={`${id}-tz`} hint="IANA name; the cron expression is read in this zone">
        <input id={`${id}-tz`} value={c.timezone ?? ""} placeholder="UTC" list={`${id}-tz-list`} onChange={(e) => update(withKey(c, "timezone", e.target.value))} />
        <datalist id={`${id}-tz-list`}>
          {timeZones().map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
      </Field>
      <Field label="Missed occurrences" htmlFor={`${id}-missed`} hint="when the platform was down at an occurrence">
        <select id={`${id}-missed`} value={c.missedPolicy ?? "skip"} onChange={(e) => update(withKey(c, "missedPolicy", e.target.value === "skip" ? undefined : e.target.value))}>
          <option value="skip">Skip them (recorded as missed)</option>
          <option value="run_once">Run once for all of them</option>
        </select>
      </Field>
      <Field label="If the previous run is still going" htmlFor={`${id}-overlap`}>
        <select id={`${id}-overlap`} value={c.overlapPolicy ?? "allow"} onChange={(e) => update(withKey(c, "overlapPolicy", e.target.value === "allow" ? undefined : e.target.value))}>
          <option value="allow">Start another run (allow overlap)</option>
          <option value="skip">Skip this occurrence</option>
          <option value="queue">Queue it until the previous run ends</option>
        </select>
      </Field>
    </>
  );
}

function EventFields({ id, c, update }: { id: string; c: Config; update: (c: Config) => void }) {
  return (
    <>
      <Field label="Topic" htmlFor={`${id}-topic`}>
        <input id={`${id}-topic`} value={c.topic ?? ""} onChange={(e) => update(withKey(c, "topic", e.target.value))} />
      </Field>
      <Field label="Pub/sub component" htmlFor={`${id}-pubsub`}>
        <input id={`${id}-pubsub`} value={c.pubsubName ?? ""} placeholder="pubsub" onChange={(e) => update(withKey(c, "pubsubName", e.target.value))} />
      </Field>
      <Field label="Filter (CEL over the CloudEvent)" htmlFor={`${id}-filter`} hint={<>e.g. <code>event.type == "order.created" &amp;&amp; event.data.amount &gt; 100</code></>}>
        <input id={`${id}-filter`} className="mono" value={c.filter ?? ""} onChange={(e) => update(withKey(c, "filter", e.target.value))} />
      </Field>
      <Field label="Dead-letter topic" htmlFor={`${id}-dlq`} hint="where malformed events go, with the reason">
        <input id={`${id}-dlq`} value={c.deadLetterTopic ?? ""} placeholder={`${c.topic || "<topic>"}.deadletter`} onChange={(e) => update(withKey(c, "deadLetterTopic", e.target.value))} />
      </Field>
    </>
  );
}

function WebhookFields({ id, c, update }: { id: string; c: Config; update: (c: Config) => void }) {
  const w = c.webhook ?? {};
  const mode = w.mode ?? "async";
  const auth = w.auth ?? "hmac";
  return (
    <>
      <p className="muted small">Once deployed, the workflow answers at its webhook URL (see Triggers in the toolbar); the JSON body, plus query parameters, becomes the trigger data.</p>
      <Field label="Answer" htmlFor={`${id}-mode`}>
        <select id={`${id}-mode`} value={mode} onChange={(e) => update(withWebhook(c, "mode", e.target.value === "async" ? undefined : e.target.value))}>
          <option value="async">At once: 202 with the run id (async)</option>
          <option value="sync">Wait for the run's result (sync)</option>
        </select>
      </Field>
      {mode === "sync" && (
        <Field label="Wait at most (seconds)" htmlFor={`${id}-sync-timeout`} hint="a run still going then is answered 202, like async">
          <input id={`${id}-sync-timeout`} type="number" min={1} max={300} placeholder="30" value={w.syncTimeoutSeconds ?? ""} onChange={(e) => update(withWebhook(c, "syncTimeoutSeconds", numberOrUndefined(e.target.value)))} />
        </Field>
      )}
      <Field label="Authentication" htmlFor={`${id}-auth`}>
        <select id={`${id}-auth`} value={auth} onChange={(e) => update(withWebhook(c, "auth", e.target.value === "hmac" ? undefined : e.target.value))}>
          <option value="hmac">HMAC-SHA256 signature (recommended)</option>
          <option value="bearer">Bearer secret</option>
          <option value="none">None (anyone with the URL)</option>
        </select>
      </Field>
      {auth === "hmac" && (
        <Field label="Replay window (seconds)" htmlFor={`${id}-tolerance`} hint="signatures older or newer than this are refused">
          <input id={`${id}-tolerance`} type="number" min={1} placeholder="300" value={w.toleranceSeconds ?? ""} onChange={(e) => update(withWebhook(c, "toleranceSeconds", numberOrUndefined(e.target.value)))} />
        </Field>
      )}
      <Field label="Rate limit (requests per minute)" htmlFor={`${id}-rate`}>
        <input id={`${id}-rate`} type="number" min={1} placeholder="600" value={w.rateLimitPerMinute ?? ""} onChange={(e) => update(withWebhook(c, "rateLimitPerMinute", numberOrUndefined(e.target.value)))} />
      </Field>
    </>
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
      {type === "schedule" && <ScheduleFields id={id} c={c} update={update} />}
      {type === "event" && <EventFields id={id} c={c} update={update} />}
      {type === "webhook" && <WebhookFields id={id} c={c} update={update} />}
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
