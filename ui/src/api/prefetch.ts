// Start fetching the workflow of an editor URL while the app boots (in parallel with the
// session probe); the editor takes the result instead of fetching again.
import { workflowApi } from "./endpoints";
import type { WorkflowDetail } from "./types";

const pending = new Map<string, Promise<WorkflowDetail | null>>();

export function prefetchFromLocation(pathname: string): void {
  const match = /^\/workflows\/([^/]+)$/.exec(pathname);
  if (!match) return;
  const id = decodeURIComponent(match[1]);
  const request = workflowApi.load(id);
  request.catch(() => undefined); // the editor reports errors when it takes the promise
  pending.set(id, request);
}

/** The prefetched load of this workflow (once), else a fresh one. */
export function loadWorkflow(id: string): Promise<WorkflowDetail | null> {
  const request = pending.get(id);
  pending.delete(id);
  return request ?? workflowApi.load(id);
}
