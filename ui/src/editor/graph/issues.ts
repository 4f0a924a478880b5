// Server issues (full validation) and instant client issues say much the same; show each once.
import type { Issue } from "../../api/types";

function key(i: Issue): string {
  return `${i.nodeId ?? ""}|${i.field ?? i.code}`;
}

/** Server issues first, then client issues about something the server did not report. */
export function dedupeIssues(client: Issue[], server: Issue[], nodeId?: string): Issue[] {
  const pick = (list: Issue[]) => (nodeId === undefined ? list : list.filter((i) => i.nodeId === nodeId));
  const out: Issue[] = [];
  const seen = new Set<string>();
  for (const i of [...pick(server), ...pick(client)]) {
    const k = key(i);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(i);
  }
  return out;
}
