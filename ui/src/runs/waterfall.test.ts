import { describe, expect, it } from "vitest";
import { compareTimelines, waterfall } from "./waterfall";

describe("waterfall", () => {
  it("places bars relative to the run and orders them by start", () => {
    const { bars } = waterfall([
      { nodeId: "b", status: "completed", startedAt: "2026-01-01T00:00:01Z", completedAt: "2026-01-01T00:00:03Z" },
      { nodeId: "a", status: "completed", startedAt: "2026-01-01T00:00:00Z", completedAt: "2026-01-01T00:00:01Z" },
      { nodeId: "s", status: "skipped" },
    ]);
    expect(bars.map((b) => b.node.nodeId)).toEqual(["a", "b", "s"]);
    expect(bars[0]).toMatchObject({ left: 0 });
    expect(bars[0].width).toBeCloseTo(1 / 3);
    expect(bars[1].left).toBeCloseTo(1 / 3);
    expect(bars[1].width).toBeCloseTo(2 / 3);
    expect(bars[2].width).toBe(0);
  });
});

describe("run comparison", () => {
  it("lines nodes up and flags differences", () => {
    const rows = compareTimelines(
      { instanceId: "l", nodes: [{ nodeId: "a", status: "completed", output: { x: 1 } }, { nodeId: "b", status: "failed" }] },
      { instanceId: "r", nodes: [{ nodeId: "a", status: "completed", output: { x: 2 } }, { nodeId: "c", status: "completed" }] },
    );
    expect(rows.map((r) => [r.nodeId, r.sameStatus, r.sameOutput])).toEqual([
      ["a", true, false],
      ["b", false, true],
      ["c", false, true],
    ]);
  });
});
