import type { NodeSpec } from "../types";
import { triggerDefaults } from "./defaults";
import { validateTrigger } from "./validate";

export const triggerSpec: NodeSpec<"trigger"> = {
  kind: "trigger",
  title: "Trigger",
  description: "Where a run starts: manual, webhook, schedule or event",
  defaultLabel: "Start",
  icon: "▶",
  defaults: triggerDefaults,
  validate: validateTrigger,
  summary: (d) =>
    d.config.triggerType === "schedule"
      ? `schedule · ${d.config.cron ?? `${d.config.intervalSeconds}s`}`
      : d.config.triggerType === "event"
        ? `event · ${d.config.topic ?? "?"}`
        : (d.config.triggerType ?? "manual"),
};
