import { Field } from "../../../components/ui";
import { TemplateInput } from "../../panels/TemplateInput";
import { withKey, type PanelProps } from "../../panels/common";

export function ConditionPanel({ id, data, update }: PanelProps<"condition">) {
  return (
    <div className="stack">
      <Field label="Expression (CEL)" htmlFor={`${id}-expr`}
        hint={<>Node outputs are variables, e.g. <code>FetchData.data.status == 200</code> or <code>trigger.amount &gt; 100 &amp;&amp; {"{{trigger.vip}}"}</code>. True follows the <b>true</b> handle.</>}>
        <TemplateInput id={`${id}-expr`} multiline rows={3} className="mono" value={data.config.expression ?? ""}
          onChange={(v) => update(withKey(data.config, "expression", v))} />
      </Field>
    </div>
  );
}
