import type { TimerData } from "../../../definition/nodeData";
import type { IssueDraft } from "../types";
import { DURATION_UNITS } from "./defaults";

const FORMS = ["durationSeconds", "durationMinutes", "durationHours", "duration", "until"] as const;

export function validateTimer(data: TimerData): IssueDraft[] {
  const c = data.config;
  const given = FORMS.filter((k) => c[k] !== undefined && c[k] !== null && c[k] !== "");
  if (given.length === 0) return [{ field: "config.duration", message: "a timer needs a duration or an 'until' time" }];
  if (given.length > 1) return [{ field: `config.${given[1]}`, message: `a timer takes one duration form, got ${given.join(", ")}` }];
  const form = given[0];
  if (form === "until") {
    const s = String(c.until);
    if (!s.includes("{{") && Number.isNaN(Date.parse(s)))
      return [{ field: "config.until", message: `'${s}' is not an ISO date-time` }];
    return [];
  }
  const value = c[form];
  if (typeof value === "string" && value.includes("{{")) return [];
  if (form === "duration" && c.durationUnit && !(DURATION_UNITS as readonly string[]).includes(c.durationUnit))
    return [{ field: "config.durationUnit", message: `unit must be one of ${DURATION_UNITS.join(", ")}` }];
  if (form === "duration" && typeof value === "string" && !c.durationUnit) return [];
  if (!(Number(value) >= 0)) return [{ field: `config.${form}`, message: "the duration must be a number ≥ 0" }];
  return [];
}
