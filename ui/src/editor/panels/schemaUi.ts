// Titles and widgets of forms generated from JSON Schemas (pure; shared by every form).
import type { JsonObject } from "../../definition/types";

export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .trim();
  const sentence = words.replace(/\b([A-Z])([a-z])/g, (_m, a: string, b: string) => a.toLowerCase() + b);
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

const TYPED = ["type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "items"];

export function uiSchemaFor(schema: JsonObject): Record<string, unknown> {
  const ui: Record<string, unknown> = { "ui:submitButtonOptions": { norender: true } };
  const props = (schema.properties ?? {}) as Record<string, JsonObject>;
  for (const [key, sub] of Object.entries(props)) {
    const entry: Record<string, unknown> = {};
    if (!sub.title) entry["ui:title"] = humanize(key);
    const long = sub.format === "textarea" || sub["x-multiline"] === true || /prompt|body|message|text|content|template|query/i.test(key);
    if (sub.type === "string" && !sub.enum && long) entry["ui:widget"] = "textarea";
    if (!TYPED.some((k) => k in sub)) entry["ui:field"] = "AnyValue";
    ui[key] = entry;
  }
  return ui;
}
