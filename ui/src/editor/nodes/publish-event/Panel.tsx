import { Field } from "../../../components/ui";
import { TemplateInput } from "../../panels/TemplateInput";
import { JsonField, withKey, type PanelProps } from "../../panels/common";

export function PublishEventPanel({ id, data, update }: PanelProps<"publish-event">) {
  const c = data.config;
  const isText = typeof c.data === "string";
  return (
    <div className="stack">
      <div className="grid-2">
        <Field label="Topic" htmlFor={`${id}-topic`}>
          <input id={`${id}-topic`} value={c.topic ?? ""} onChange={(e) => update(withKey(c, "topic", e.target.value))} />
        </Field>
        <Field label="Pub/sub component" htmlFor={`${id}-pubsub`}>
          <input id={`${id}-pubsub`} value={c.pubsubName ?? ""} placeholder="pubsub" onChange={(e) => update(withKey(c, "pubsubName", e.target.value))} />
        </Field>
      </div>
      {isText ? (
        <Field label="Data (text with templates)" htmlFor={`${id}-data`}>
          <TemplateInput id={`${id}-data`} multiline rows={5} value={c.data as string} onChange={(v) => update({ ...c, data: v })} />
        </Field>
      ) : (
        <Field label="Data (JSON; strings may hold templates)" htmlFor={`${id}-data`}>
          <JsonField id={`${id}-data`} value={c.data} onChange={(v) => update(withKey(c, "data", v))} />
        </Field>
      )}
    </div>
  );
}
