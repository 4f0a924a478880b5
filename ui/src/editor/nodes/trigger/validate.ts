import type { TriggerData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft } from "../types";

const CRON_FIELD = /^[\d*/,\-A-Za-z?LW#]+$/;

export function validateTrigger(data: TriggerData): IssueDraft[] {
  const c = data.config;
  const issues: IssueDraft[] = [];
  if (c.triggerType === "schedule") {
    if (isBlank(c.cron) && !c.intervalSeconds)
      issues.push({ field: "config.cron", message: "a schedule trigger needs a cron expression or an interval" });
    if (!isBlank(c.cron)) {
      const parts = String(c.cron).trim().split(/\s+/);
      if (parts.length < 5 || parts.length > 6 || !parts.every((p) => CRON_FIELD.test(p)))
        issues.push({ field: "config.cron", message: `'${c.cron}' is not a cron expression (5 fields: m h dom mon dow)` });
    }
  }
  if (c.triggerType === "event" && isBlank(c.topic))
    issues.push({ field: "config.topic", message: "an event trigger needs a topic" });
  if (c.inputSchema !== undefined && (typeof c.inputSchema !== "object" || Array.isArray(c.inputSchema)))
    issues.push({ field: "config.inputSchema", message: "the input schema must be a JSON object" });
  return issues;
}
