import type { ActionConfig } from "../../../definition/nodeData";
import type { JsonObject } from "../../../definition/types";
import { Field } from "../../../components/ui";
import { useEditor } from "../../store/context";
import { FunctionForm } from "../../panels/FunctionForm";
import { FunctionPicker } from "../../panels/FunctionPicker";
import { numberOrUndefined, withKey, type PanelProps } from "../../panels/common";
import { ACTION_CONTROL_KEYS, functionInput } from "./defaults";

function control(config: ActionConfig): ActionConfig {
  return Object.fromEntries(Object.entries(config).filter(([k]) => ACTION_CONTROL_KEYS.has(k))) as ActionConfig;
}

export function ActionPanel({ id, data, update }: PanelProps<"action">) {
  const catalog = useEditor((s) => s.catalog);
  const c = data.config;
  const fn = c.actionId ? catalog.get(c.actionId) : undefined;
  const retry = c.retry ?? {};
  return (
    <div className="stack">
      <Field label="Function" htmlFor={`${id}-fn`}>
        <FunctionPicker id={`${id}-fn`} value={c.actionId} catalog={catalog} onChange={(slug) => update({ ...control(c), actionId: slug })} />
      </Field>
      {fn?.description && <p className="muted small">{fn.description}</p>}
      {fn && (
        <fieldset className="fieldset">
          <legend>Input</legend>
          {fn.inputSchema && Object.keys((fn.inputSchema.properties as object) ?? {}).length ? (
            <FunctionForm
              key={fn.slug}
              idPrefix={`cfg-${id}`}
              schema={fn.inputSchema}
              value={functionInput(c)}
              onChange={(input: JsonObject) => update({ ...control(c), ...input })}
            />
          ) : (
            <p className="muted small">This function takes no input.</p>
          )}
          <p className="hint">Type {"{{"} to insert the output of an earlier step.</p>
        </fieldset>
      )}
      <details>
        <summary>Retries, timeout and errors</summary>
        <div className="stack">
          <div className="grid-2">
            <Field label="Max attempts" htmlFor={`${id}-attempts`}>
              <input id={`${id}-attempts`} type="number" min={1} max={100} value={retry.maxAttempts ?? ""} placeholder="1"
                onChange={(e) => update(withKey(c, "retry", Object.keys(withKey(retry, "maxAttempts", numberOrUndefined(e.target.value))).length ? withKey(retry, "maxAttempts", numberOrUndefined(e.target.value)) : undefined))} />
            </Field>
            <Field label="First retry after (s)" htmlFor={`${id}-interval`}>
              <input id={`${id}-interval`} type="number" min={0.1} step={0.1} value={retry.initialIntervalSeconds ?? ""} placeholder="1"
                onChange={(e) => update(withKey(c, "retry", withKey(retry, "initialIntervalSeconds", numberOrUndefined(e.target.value))))} />
            </Field>
            <Field label="Backoff ×" htmlFor={`${id}-backoff`}>
              <input id={`${id}-backoff`} type="number" min={1} step={0.5} value={retry.backoffCoefficient ?? ""} placeholder="2"
                onChange={(e) => update(withKey(c, "retry", withKey(retry, "backoffCoefficient", numberOrUndefined(e.target.value))))} />
            </Field>
            <Field label="Timeout (s)" htmlFor={`${id}-timeout`}>
              <input id={`${id}-timeout`} type="number" min={1} value={c.timeoutSeconds ?? ""} placeholder={String(fn?.timeoutSeconds ?? 300)}
                onChange={(e) => update(withKey(c, "timeoutSeconds", numberOrUndefined(e.target.value)))} />
            </Field>
          </div>
          <Field label="When it fails" htmlFor={`${id}-onerror`}>
            <select id={`${id}-onerror`} value={c.onError ?? "stop"} onChange={(e) => update(withKey(c, "onError", e.target.value === "stop" ? undefined : e.target.value))}>
              <option value="stop">Stop the run</option>
              <option value="continue">Continue with the next steps</option>
              <option value="compensate">Compensate completed steps (saga)</option>
            </select>
          </Field>
          {c.onError === "compensate" || c.compensate ? (
            <Field label="Compensating function" htmlFor={`${id}-comp`}>
              <FunctionPicker id={`${id}-comp`} value={c.compensate?.actionId} catalog={catalog}
                onChange={(slug) => update(withKey(c, "compensate", slug ? { ...(c.compensate ?? {}), actionId: slug } : undefined))} />
            </Field>
          ) : null}
        </div>
      </details>
    </div>
  );
}
