import { describe, expect, it } from "vitest";
import { curlExample, exampleBody, normalizeWebhook, relativeTime, webhookUrl } from "./webhook";

describe("webhookUrl", () => {
  it("is absolute, on the BFF's origin", () => {
    expect(webhookUrl("https://flows.example.com/", "wf_1")).toBe("https://flows.example.com/hooks/wf_1");
    expect(webhookUrl("http://127.0.0.1:3000", "a b")).toBe("http://127.0.0.1:3000/hooks/a%20b");
  });

  it("prefers the path admin-api gives", () => {
    expect(webhookUrl("http://h", "wf", "/hooks/wf")).toBe("http://h/hooks/wf");
    expect(webhookUrl("http://h", "wf", "relative")).toBe("http://h/hooks/wf");
  });
});

describe("exampleBody", () => {
  it("fills each property with a value of its type, preferring defaults, examples and enums", () => {
    const body = exampleBody({
      type: "object",
      properties: {
        name: { type: "string" },
        count: { type: "integer", minimum: 3 },
        ratio: { type: "number" },
        ok: { type: "boolean" },
        tags: { type: "array" },
        tier: { type: "string", enum: ["gold", "silver"] },
        region: { type: "string", default: "eu" },
        email: { type: "string", format: "email" },
        nested: { type: "object", properties: { id: { type: "string", examples: ["o-1"] } } },
      },
    });
    expect(body).toEqual({
      name: "example",
      count: 3,
      ratio: 1.5,
      ok: true,
      tags: [],
      tier: "gold",
      region: "eu",
      email: "ada@example.com",
      nested: { id: "o-1" },
    });
  });

  it("is an empty object without a schema", () => {
    expect(exampleBody(undefined)).toEqual({});
  });
});

describe("curlExample", () => {
  it("signs timestamp.body with HMAC-SHA256 for hmac webhooks", () => {
    const text = curlExample("http://h/hooks/wf", "hmac", { name: "it's" });
    expect(text).toContain(`BODY='{"name":"it'\\''s"}'`);
    expect(text).toContain(`printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$WFB_WEBHOOK_SECRET"`);
    expect(text).toContain(`-H "X-WFB-Signature: sha256=$SIG"`);
    expect(text).toContain(`-H "X-WFB-Timestamp: $TS"`);
    expect(text).toContain(`--data-raw "$BODY"`);
    expect(text).not.toContain("Authorization");
  });

  it("sends the secret as a bearer token for bearer webhooks, and nothing for none", () => {
    const bearer = curlExample("http://h/hooks/wf", "bearer", {});
    expect(bearer).toContain(`-H "Authorization: Bearer $WFB_WEBHOOK_SECRET"`);
    expect(bearer).not.toContain("X-WFB-Signature");
    const open = curlExample("http://h/hooks/wf", "none", {});
    expect(open).not.toContain("WFB_WEBHOOK_SECRET");
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2030-01-01T12:00:00Z");
  it("says how far away a time is", () => {
    expect(relativeTime("2030-01-01T12:03:00Z", now)).toBe("in 3 min");
    expect(relativeTime("2030-01-01T11:59:48Z", now)).toBe("12 s ago");
    expect(relativeTime("2030-01-01T14:00:00Z", now)).toBe("in 2 h");
    expect(relativeTime("2029-12-29T12:00:00Z", now)).toBe("3 d ago");
    expect(relativeTime(null, now)).toBe("—");
    expect(relativeTime("garbage", now)).toBe("garbage");
  });
});

describe("normalizeWebhook", () => {
  it("reads the members whatever their spelling, defaulting to hmac", () => {
    expect(normalizeWebhook({ path: "/hooks/w", auth: "bearer", mode: "sync", active: true, hasSecret: true })).toEqual({
      path: "/hooks/w",
      auth: "bearer",
      mode: "sync",
      active: true,
      hasSecret: true,
    });
    expect(normalizeWebhook({ webhookPath: "/hooks/w", authMode: "none", active: false })).toEqual({
      path: "/hooks/w",
      auth: "none",
      mode: null,
      active: false,
      hasSecret: false,
    });
    expect(normalizeWebhook({ auth: "weird" }).auth).toBe("hmac");
  });
});
