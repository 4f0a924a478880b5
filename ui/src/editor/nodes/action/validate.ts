import type { ActionData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft, type ValidationContext } from "../types";
import { functionInput } from "./defaults";

const SLUG = /^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_.-]*$/;

export function validateAction(data: ActionData, ctx: ValidationContext): IssueDraft[] {
  const c = data.config;
  if (isBlank(c.actionId)) return [{ field: "config.actionId", message: "choose the function this step calls" }];
  const slug = String(c.actionId);
  if (!SLUG.test(slug)) return [{ field: "config.actionId", message: `'${slug}' is not a function slug (plugin/name)` }];
  const fn = ctx.catalog.get(slug);
  if (!fn) {
    return ctx.catalogLoaded
      ? [{ field: "config.actionId", message: `function '${slug}' is not in the registry`, code: "unknown_function" }]
      : [];
  }
  const issues: IssueDraft[] = [];
  if (fn.isDeprecated) issues.push({ field: "config.actionId", message: `'${slug}' is deprecated`, severity: "warning" });
  if (fn.isEnabled === false) issues.push({ field: "config.actionId", message: `'${slug}' is disabled` });
  const input = functionInput(c);
  const required = (fn.inputSchema?.required as string[] | undefined) ?? [];
  for (const key of required)
    if (isBlank(input[key])) issues.push({ field: `config.${key}`, message: `'${key}' is required by ${slug}`, code: "missing_input" });
  if (c.timeoutSeconds !== undefined && !(Number(c.timeoutSeconds) > 0))
    issues.push({ field: "config.timeoutSeconds", message: "the timeout must be a positive number of seconds" });
  if (c.onError === "compensate" && !c.compensate?.actionId)
    issues.push({ field: "config.compensate", message: "onError 'compensate' needs a compensating function" });
  return issues;
}
