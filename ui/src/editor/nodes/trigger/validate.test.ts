import { describe, expect, it } from "vitest";
import type { TriggerConfig, TriggerData } from "../../../definition/nodeData";
import { validateTrigger } from "./validate";

const trigger = (config: TriggerConfig): TriggerData => ({ kind: "trigger", label: "Start", enabled: true, config });
const fields = (config: TriggerConfig) => validateTrigger(trigger(config)).map((i) => `${i.severity ?? "error"}:${i.field}`);

describe("trigger validation", () => {
  it("accepts complete configs of every kind", () => {
    expect(fields({ triggerType: "manual" })).toEqual([]);
    expect(fields({ triggerType: "schedule", cron: "*/5 * * * *", timezone: "Europe/Berlin", missedPolicy: "run_once", overlapPolicy: "queue" })).toEqual([]);
    expect(fields({ triggerType: "schedule", intervalSeconds: 30 })).toEqual([]);
    expect(fields({ triggerType: "event", topic: "orders", filter: "event.type == 'x'", deadLetterTopic: "orders.dead" })).toEqual([]);
    expect(fields({ triggerType: "webhook", webhook: { mode: "sync", auth: "bearer", syncTimeoutSeconds: 300, rateLimitPerMinute: 60, toleranceSeconds: 120 } })).toEqual([]);
  });

  it("flags schedules without a time, with both, with bad cron, interval or zone", () => {
    expect(fields({ triggerType: "schedule" })).toEqual(["error:config.cron"]);
    expect(fields({ triggerType: "schedule", cron: "* * * * *", intervalSeconds: 5 })).toEqual(["error:config.intervalSeconds"]);
    expect(fields({ triggerType: "schedule", cron: "every day" })).toEqual(["error:config.cron"]);
    expect(fields({ triggerType: "schedule", intervalSeconds: -1 })).toEqual(["error:config.intervalSeconds"]);
    expect(fields({ triggerType: "schedule", cron: "0 2 * * *", timezone: "Mars/Olympus" })).toEqual(["error:config.timezone"]);
  });

  it("flags events without a topic or dead-lettering into their own topic", () => {
    expect(fields({ triggerType: "event" })).toEqual(["error:config.topic"]);
    expect(fields({ triggerType: "event", topic: "t", deadLetterTopic: "t" })).toEqual(["error:config.deadLetterTopic"]);
  });

  it("flags webhook limits out of range and warns about unauthenticated webhooks", () => {
    expect(fields({ triggerType: "webhook", webhook: { syncTimeoutSeconds: 301 } })).toEqual(["error:config.webhook.syncTimeoutSeconds"]);
    expect(fields({ triggerType: "webhook", webhook: { rateLimitPerMinute: 0.5 } })).toEqual(["error:config.webhook.rateLimitPerMinute"]);
    expect(fields({ triggerType: "webhook", webhook: { toleranceSeconds: 0 } })).toEqual(["error:config.webhook.toleranceSeconds"]);
    expect(fields({ triggerType: "webhook", webhook: { auth: "none" } })).toEqual(["warning:config.webhook.auth"]);
  });
});
