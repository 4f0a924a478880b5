import { describe, expect, it } from "vitest";
import type { Issue } from "../../api/types";
import { dedupeIssues } from "./issues";

const issue = (nodeId: string, field: string | null, code: string, source: "client" | "server"): Issue => ({
  nodeId, field, code, source, message: `${source} ${code}`, severity: "error",
});

describe("issue merging", () => {
  it("keeps the server's word and adds only what the client alone found", () => {
    const server = [issue("a", "config.url", "invalid_config", "server")];
    const client = [issue("a", "config.url", "missing_input", "client"), issue("b", null, "cycle", "client")];
    const merged = dedupeIssues(client, server);
    expect(merged.map((i) => i.message)).toEqual(["server invalid_config", "client cycle"]);
    expect(dedupeIssues(client, server, "a")).toHaveLength(1);
  });
});
