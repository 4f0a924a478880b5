import type { NodeSpec } from "../types";
import { conditionDefaults } from "./defaults";
import { validateCondition } from "./validate";

export const conditionSpec: NodeSpec<"condition"> = {
  kind: "condition",
  title: "Condition",
  description: "Routes along true or false",
  defaultLabel: "Condition",
  icon: "◇",
  defaults: conditionDefaults,
  validate: validateCondition,
  summary: (d) => d.config.expression || "no expression",
};
