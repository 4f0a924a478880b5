import type { ConditionData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft } from "../types";

export function validateCondition(data: ConditionData): IssueDraft[] {
  const expr = data.config.expression;
  if (isBlank(expr)) return [{ field: "config.expression", message: "a condition needs an expression (CEL)" }];
  const text = String(expr);
  let depth = 0;
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0) break;
  }
  if (depth !== 0) return [{ field: "config.expression", message: "unbalanced parentheses in the expression" }];
  return [];
}
