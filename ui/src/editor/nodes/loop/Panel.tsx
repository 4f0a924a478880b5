import type { JsonObject } from "../../../definition/types";
import { Field } from "../../../components/ui";
import { useEditor } from "../../store/context";
import { FunctionForm } from "../../panels/FunctionForm";
import { FunctionPicker } from "../../panels/FunctionPicker";
import { TemplateInput } from "../../panels/TemplateInput";
import { numberOrUndefined, withKey, type PanelProps } from "../../panels/common";

const CONTROL = new Set(["items", "concurrency", "body", "actionId", "maxItems", "onError"]);

export function LoopPanel({ id, data, update }: PanelProps<"loop">) {
  const catalog = useEditor((s) => s.catalog);
  const c = data.config;
  const control = Object.fromEntries(Object.entries(c).filter(([k]) => CONTROL.has(k)));
  const input = Object.fromEntries(Object.entries(c).filter(([k]) => !CONTROL.has(k)));
  const fn = c.actionId ? catalog.get(c.actionId) : undefined;
  return (
    <div className="stack">
      <Field label="Items" htmlFor={`${id}-items`} hint="A list, usually a template such as {{FetchData.data.items}}.">
        <TemplateInput id={`${id}-items`} value={typeof c.items === "string" ? c.items : JSON.stringify(c.items ?? "")} onChange={(v) => update(withKey(c, "items", v))} />
      </Field>
      {c.body ? (
        <p className="muted small">This loop runs a sub-graph body ({((c.body.nodes as unknown[]) ?? []).length} nodes); edit it in JSON.</p>
      ) : (
        <>
          <Field label="Function run for each item" htmlFor={`${id}-fn`}>
            <FunctionPicker id={`${id}-fn`} value={c.actionId} catalog={catalog} onChange={(slug) => update({ ...control, actionId: slug })} />
          </Field>
          {fn?.inputSchema && (
            <fieldset className="fieldset">
              <legend>Input per item</legend>
              <FunctionForm key={fn.slug} idPrefix={`cfg-${id}`} schema={fn.inputSchema} value={input as JsonObject} onChange={(v) => update({ ...control, ...v })} />
              <p className="hint">{"{{item}}"} is the current element, {"{{index}}"} its position.</p>
            </fieldset>
          )}
        </>
      )}
      <div className="grid-2">
        <Field label="Concurrency" htmlFor={`${id}-conc`}>
          <input id={`${id}-conc`} type="number" min={1} max={100} value={c.concurrency ?? ""} placeholder="4" onChange={(e) => update(withKey(c, "concurrency", numberOrUndefined(e.target.value)))} />
        </Field>
        <Field label="Max items" htmlFor={`${id}-max`}>
          <input id={`${id}-max`} type="number" min={1} max={10000} value={c.maxItems ?? ""} placeholder="1000" onChange={(e) => update(withKey(c, "maxItems", numberOrUndefined(e.target.value)))} />
        </Field>
      </div>
      <Field label="When an item fails" htmlFor={`${id}-onerror`}>
        <select id={`${id}-onerror`} value={c.onError ?? "stop"} onChange={(e) => update(withKey(c, "onError", e.target.value === "stop" ? undefined : e.target.value))}>
          <option value="stop">Stop the run</option>
          <option value="continue">Continue with the other items</option>
        </select>
      </Field>
    </div>
  );
}
