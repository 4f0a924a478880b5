// Forms generated from a function's input JSON Schema (react-jsonschema-form + ajv), with
// template autocomplete in every text field.
import Form from "@rjsf/core";
import { getTemplate, type RJSFSchema, type WidgetProps } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { memo } from "react";
import type { JsonObject } from "../../definition/types";
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

const widgets = { TextWidget: TemplateTextWidget, TextareaWidget: TemplateTextareaWidget };

function uiSchemaFor(schema: JsonObject): Record<string, unknown> {
  const ui: Record<string, unknown> = { "ui:submitButtonOptions": { norender: true } };
  const props = (schema.properties ?? {}) as Record<string, JsonObject>;
  for (const [key, sub] of Object.entries(props)) {
    const long = sub.format === "textarea" || sub["x-multiline"] === true || /prompt|body|message|text|content|template|query/i.test(key);
    if (sub.type === "string" && !sub.enum && long) ui[key] = { "ui:widget": "textarea" };
  }
  return ui;
}

export interface FunctionFormProps {
  idPrefix: string;
  schema: JsonObject;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
}

function FunctionFormImpl({ idPrefix, schema, value, onChange }: FunctionFormProps) {
  return (
    <Form
      className="schema-form"
      schema={schema as RJSFSchema}
      uiSchema={uiSchemaFor(schema)}
      formData={value}
      validator={validator}
      widgets={widgets}
      idPrefix={idPrefix}
      showErrorList={false}
      noHtml5Validate
      onChange={(e) => onChange((e.formData ?? {}) as JsonObject)}
    />
  );
}

export const FunctionForm = memo(FunctionFormImpl);
