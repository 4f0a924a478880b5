import type { NodeSpec } from "../types";
import { timerDefaults } from "./defaults";
import { validateTimer } from "./validate";

export const timerSpec: NodeSpec<"timer"> = {
  kind: "timer",
  title: "Timer",
  description: "Waits durably for a duration or until a time",
  defaultLabel: "Wait",
  icon: "⏱",
  defaults: timerDefaults,
  validate: validateTimer,
  summary: (d) => {
    const c = d.config;
    if (c.until) return `until ${c.until}`;
    if (c.durationSeconds !== undefined) return `${c.durationSeconds} s`;
    if (c.durationMinutes !== undefined) return `${c.durationMinutes} min`;
    if (c.durationHours !== undefined) return `${c.durationHours} h`;
    return c.duration !== undefined ? `${c.duration} ${c.durationUnit ?? ""}`.trim() : "no duration";
  },
};
