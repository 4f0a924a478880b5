// Pure helpers of the Triggers panel: the public webhook URL, an example request a sender
// can paste (with the HMAC signing steps), example bodies from the input schema, and times.
import type { JsonObject } from "../definition/types";

export type WebhookAuth = "hmac" | "bearer" | "none";

/** The absolute public URL of a workflow's webhook, served by the BFF (this origin). */
export function webhookUrl(origin: string, workflowId: string, path?: string | null): string {
  const base = origin.replace(/\/+$/, "");
  const p = path && path.startsWith("/") ? path : `/hooks/${encodeURIComponent(workflowId)}`;
  return `${base}${p}`;
}

function exampleValue(schema: JsonObject | undefined, depth = 0): unknown {
  if (!schema || depth > 4) return null;
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (schema.const !== undefined) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return schema.format === "date-time" ? "2030-01-01T00:00:00Z" : schema.format === "email" ? "ada@example.com" : "example";
    case "integer":
      return typeof schema.minimum === "number" ? schema.minimum : 1;
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 1.5;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
    case undefined:
      return exampleObject(schema, depth + 1);
    default:
      return null;
  }
}

function exampleObject(schema: JsonObject, depth: number): JsonObject {
  const props = (schema.properties ?? {}) as Record<string, JsonObject>;
  return Object.fromEntries(Object.entries(props).map(([k, sub]) => [k, exampleValue(sub, depth)])) as JsonObject;
}

/** A body that satisfies the trigger's input schema as far as the schema says. */
export function exampleBody(schema: JsonObject | undefined): JsonObject {
  return schema ? exampleObject(schema, 0) : {};
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A shell snippet that sends one request, signed as the auth mode requires. The secret is
 * read from $WFB_WEBHOOK_SECRET, never pasted into the command line. */
export function curlExample(url: string, auth: WebhookAuth, body: unknown): string {
  const lines = [`BODY=${shellQuote(JSON.stringify(body))}`];
  const headers = [`-H 'Content-Type: application/json'`];
  if (auth === "hmac") {
    lines.push(
      "TS=$(date +%s)",
      `SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$WFB_WEBHOOK_SECRET" -r | cut -d' ' -f1)`,
    );
    headers.push(`-H "X-WFB-Timestamp: $TS"`, `-H "X-WFB-Signature: sha256=$SIG"`);
  } else if (auth === "bearer") {
    headers.push(`-H "Authorization: Bearer $WFB_WEBHOOK_SECRET"`);
  }
  lines.push(`curl -sS -X POST ${shellQuote(url)} \\\n  ${headers.join(" \\\n  ")} \\\n  --data-raw "$BODY"`);
  return lines.join("\n");
}

/** "in 3 min", "12 s ago": how far an ISO time is from now. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86_400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86_400)} d`;
  if (abs < 1) return "now";
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

export interface WebhookInfo {
  path: string | null;
  auth: WebhookAuth;
  mode: "async" | "sync" | null;
  active: boolean;
  hasSecret: boolean;
}

/** admin-api's webhook description, whatever the exact member names. */
export function normalizeWebhook(raw: Record<string, unknown>): WebhookInfo {
  const auth = String(raw.auth ?? raw.authMode ?? raw.auth_mode ?? "hmac");
  return {
    path: (raw.path ?? raw.webhookPath ?? raw.url ?? null) as string | null,
    auth: (auth === "bearer" || auth === "none" ? auth : "hmac") as WebhookAuth,
    mode: raw.mode === "sync" || raw.mode === "async" ? raw.mode : null,
    active: raw.active !== false,
    hasSecret: Boolean(raw.hasSecret ?? raw.secretExists ?? raw.has_secret ?? false),
  };
}
