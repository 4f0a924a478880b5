import type { TriggerData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft } from "../types";

const CRON_FIELD = /^[\d*/,\-A-Za-z?LW#]+$/;
export const MAX_SYNC_TIMEOUT_SECONDS = 300;

/** Whether the browser knows the IANA time zone (the server checks with zoneinfo). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function positive(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

function scheduleIssues(c: TriggerData["config"]): IssueDraft[] {
  const issues: IssueDraft[] = [];
  const hasCron = !isBlank(c.cron);
  if (!hasCron && c.intervalSeconds === undefined)
    issues.push({ field: "config.cron", message: "a schedule trigger needs a cron expression or an interval" });
  if (hasCron && c.intervalSeconds !== undefined)
    issues.push({ field: "config.intervalSeconds", message: "give a cron expression or an interval, not both" });
  if (hasCron) {
    const parts = String(c.cron).trim().split(/\s+/);
    if (parts.length < 5 || parts.length > 6 || !parts.every((p) => CRON_FIELD.test(p)))
      issues.push({ field: "config.cron", message: `'${c.cron}' is not a cron expression (5 fields: m h dom mon dow, optional seconds)` });
  }
  if (c.intervalSeconds !== undefined && !positive(c.intervalSeconds))
    issues.push({ field: "config.intervalSeconds", message: "the interval must be a positive number of seconds" });
  if (!isBlank(c.timezone) && !isTimeZone(String(c.timezone)))
    issues.push({ field: "config.timezone", message: `'${c.timezone}' is not a time zone (e.g. Europe/Berlin, UTC)` });
  return issues;
}

function webhookIssues(c: TriggerData["config"]): IssueDraft[] {
  const w = c.webhook ?? {};
  const issues: IssueDraft[] = [];
  if (w.syncTimeoutSeconds !== undefined && (!positive(w.syncTimeoutSeconds) || w.syncTimeoutSeconds > MAX_SYNC_TIMEOUT_SECONDS))
    issues.push({ field: "config.webhook.syncTimeoutSeconds", message: `the sync timeout must be between 1 and ${MAX_SYNC_TIMEOUT_SECONDS} seconds` });
  if (w.rateLimitPerMinute !== undefined && (!Number.isInteger(w.rateLimitPerMinute) || w.rateLimitPerMinute < 1))
    issues.push({ field: "config.webhook.rateLimitPerMinute", message: "the rate limit must be a whole number of requests per minute (1 or more)" });
  if (w.toleranceSeconds !== undefined && !positive(w.toleranceSeconds))
    issues.push({ field: "config.webhook.toleranceSeconds", message: "the replay window must be a positive number of seconds" });
  if (w.auth === "none")
    issues.push({ field: "config.webhook.auth", severity: "warning", message: "without authentication anyone who knows the URL can start runs" });
  return issues;
}

export function validateTrigger(data: TriggerData): IssueDraft[] {
  const c = data.config;
  const issues: IssueDraft[] = [];
  if (c.triggerType === "schedule") issues.push(...scheduleIssues(c));
  if (c.triggerType === "event") {
    if (isBlank(c.topic)) issues.push({ field: "config.topic", message: "an event trigger needs a topic" });
    else if (!isBlank(c.deadLetterTopic) && c.deadLetterTopic === c.topic)
      issues.push({ field: "config.deadLetterTopic", message: "the dead-letter topic must differ from the topic" });
  }
  if (c.triggerType === "webhook") issues.push(...webhookIssues(c));
  if (c.inputSchema !== undefined && (typeof c.inputSchema !== "object" || Array.isArray(c.inputSchema)))
    issues.push({ field: "config.inputSchema", message: "the input schema must be a JSON object" });
  return issues;
}
