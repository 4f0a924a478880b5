import type { LoopData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft, type ValidationContext } from "../types";

export function validateLoop(data: LoopData, ctx: ValidationContext): IssueDraft[] {
  const c = data.config;
  const issues: IssueDraft[] = [];
  if (isBlank(c.items))
    issues.push({ field: "config.items", message: "a loop needs the list to iterate (e.g. {{Fetch.data.items}})" });
  const hasBody = c.body !== undefined && c.body !== null;
  if (hasBody === !isBlank(c.actionId))
    issues.push({ field: "config.actionId", message: "a loop needs exactly one of a function or a body" });
  if (!isBlank(c.actionId) && ctx.catalogLoaded && !ctx.catalog.has(String(c.actionId)))
    issues.push({ field: "config.actionId", message: `function '${c.actionId}' is not in the registry` });
  if (c.concurrency !== undefined && !(Number(c.concurrency) >= 1 && Number(c.concurrency) <= 100))
    issues.push({ field: "config.concurrency", message: "concurrency is between 1 and 100" });
  return issues;
}
