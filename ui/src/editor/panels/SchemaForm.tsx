// Forms generated from JSON Schemas (react-jsonschema-form + ajv), with template
// autocomplete in every text field. Loaded on demand: see FunctionForm.tsx.
import Form from "@rjsf/core";
import { getTemplate, type FieldProps, type RJSFSchema, type WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { memo } from "react";
import type { JsonObject } from "../../definition/types";
import { uiSchemaFor } from "./schemaUi";
import { TemplateInput } from "./TemplateInput";

function isStringSchema(schema: WidgetProps["schema"]): boolean {
  const t = schema?.type;
  return t === "string" || (Array.isArray(t) && t.includes("string")) || t === undefined;
}

function TemplateTextWidget(props: WidgetProps) {
  if (!isStringSchema(props.schema) || props.schema?.format === "date-time") {
    const Base = getTemplate("BaseInputTemplate", props.registry, props.options);
    return <Base {...props} />;
  }
  return (
    <TemplateInput
      id={props.id}
      value={props.value ?? ""}
      required={props.required}
      disabled={props.disabled || props.readonly}
      placeholder={props.placeholder || (props.schema?.default !== undefined ? String(props.schema.default) : undefined)}
      aria-invalid={Boolean(props.rawErrors?.length)}
      onChange={(v) => props.onChange(v === "" ? props.options.emptyValue : v)}
      onBlur={() => props.onBlur(props.id, props.value)}
    />
  );
}

function TemplateTextareaWidget(props: WidgetProps) {
  return (
    <TemplateInput
      id={props.id}
      multiline
      rows={(props.options.rows as number | undefined) ?? 4}
      value={props.value ?? ""}
      required={props.required}
      disabled={props.disabled || props.readonly}
      onChange={(v) => props.onChange(v === "" ? props.options.emptyValue : v)}
      onBlur={() => props.onBlur(props.id, props.value)}
    />
  );
}

/** A value of any JSON type (a schema without `type`): JSON when it parses, text otherwise. */
function AnyValueField(props: FieldProps) {
  const value = props.formData;
  const text = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    <div className="form-group">
      <label className="control-label" htmlFor={props.fieldPathId.$id}>
        {props.uiSchema?.["ui:title"] ?? props.schema.title ?? props.name}
        {props.required ? "*" : ""}
      </label>
      {props.schema.description && <p className="field-description">{props.schema.description}</p>}
      <TemplateInput
        id={props.fieldPathId.$id}
        multiline
        rows={3}
        className="mono"
        value={text}
        onChange={(v) => {
          let next: unknown = v;
          if (v.trim() === "") next = undefined;
          else if (/^[[{"\d-]|^(true|false|null)$/.test(v.trim())) {
            try {
              next = JSON.parse(v);
            } catch {
              next = v;
            }
          }
          props.onChange(next, props.fieldPathId.path);
        }}
      />
      <p className="hint">JSON, or text with {"{{templates}}"}.</p>
    </div>
  );
}

const widgets = { TextWidget: TemplateTextWidget, TextareaWidget: TemplateTextareaWidget };
const fields = { AnyValue: AnyValueField };

export interface SchemaFormProps {
  idPrefix: string;
  schema: JsonObject;
  value: unknown;
  onChange: (value: JsonObject) => void;
}

function SchemaFormImpl({ idPrefix, schema, value, onChange }: SchemaFormProps) {
  return (
    <Form
      className="schema-form"
      schema={schema as RJSFSchema}
      uiSchema={uiSchemaFor(schema)}
      formData={value}
      validator={validator}
      widgets={widgets}
      fields={fields}
      idPrefix={idPrefix}
      showErrorList={false}
      noHtml5Validate
      onChange={(e) => onChange((e.formData ?? {}) as JsonObject)}
    />
  );
}

const SchemaForm = memo(SchemaFormImpl);
export default SchemaForm;
