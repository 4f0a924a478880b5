import type { NodeSpec } from "../types";
import { loopDefaults } from "./defaults";
import { validateLoop } from "./validate";

export const loopSpec: NodeSpec<"loop"> = {
  kind: "loop",
  title: "Loop",
  description: "Runs a function for each item of a list",
  defaultLabel: "For each",
  icon: "↻",
  defaults: loopDefaults,
  validate: validateLoop,
  summary: (d) => `${d.config.actionId || "body"} × ${typeof d.config.items === "string" ? d.config.items || "?" : "list"}`,
};
