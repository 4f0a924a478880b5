import type { TimerConfig } from "../../../definition/nodeData";

export const timerDefaults = (): TimerConfig => ({ duration: 5, durationUnit: "minutes" });

export const DURATION_UNITS = ["seconds", "minutes", "hours", "days"] as const;
