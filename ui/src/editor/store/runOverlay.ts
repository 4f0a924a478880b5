// The live run drawn over the canvas, folded from status snapshots and SSE events.
import type { PendingApproval, Phase, RunEvent, RunStatus, RuntimeStatus, StepStatus } from "../../api/types";

export interface RunOverlay {
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  phase: Phase;
  progress: number;
  message?: string | null;
  currentNodeIds: string[];
  nodeStatus: Record<string, StepStatus>;
  attempts: Record<string, number>;
  pendingApproval: PendingApproval | null;
  lastSeq: number;
  error?: unknown;
}

export function emptyOverlay(instanceId: string): RunOverlay {
  return {
    instanceId,
    runtimeStatus: "PENDING",
    phase: "pending",
    progress: 0,
    currentNodeIds: [],
    nodeStatus: {},
    attempts: {},
    pendingApproval: null,
    lastSeq: 0,
  };
}

const TERMINAL: RuntimeStatus[] = ["COMPLETED", "FAILED", "TERMINATED"];
export const isTerminal = (s: RuntimeStatus) => TERMINAL.includes(s);

export function applyStatus(overlay: RunOverlay, status: RunStatus): RunOverlay {
  const nodeStatus = { ...overlay.nodeStatus };
  for (const id of Object.keys(status.outputs ?? {}))
    if (id !== "trigger" && !["failed", "skipped", "compensated"].includes(nodeStatus[id])) nodeStatus[id] = "completed";
  for (const id of status.currentNodeIds ?? []) if (!nodeStatus[id] || nodeStatus[id] === "pending") nodeStatus[id] = "running";
  if (status.pendingApproval) nodeStatus[status.pendingApproval.nodeId] = "waiting";
  return {
    ...overlay,
    runtimeStatus: status.runtimeStatus,
    phase: status.phase ?? overlay.phase,
    progress: status.progress ?? overlay.progress,
    message: status.message,
    currentNodeIds: status.currentNodeIds ?? [],
    pendingApproval: status.pendingApproval ?? null,
    nodeStatus,
    error: status.error,
  };
}

const NODE_EVENT_STATUS: Record<string, StepStatus> = {
  "node.started": "running",
  "node.completed": "completed",
  "node.failed": "failed",
  "node.skipped": "skipped",
  "node.retrying": "running",
  "approval.requested": "waiting",
  "approval.answered": "completed",
  "approval.timed_out": "completed",
  "node.compensated": "compensated",
};

const RUN_EVENT_STATUS: Record<string, [RuntimeStatus, Phase | null]> = {
  "run.started": ["RUNNING", "running"],
  "run.completed": ["COMPLETED", "completed"],
  "run.failed": ["FAILED", null],
  "run.terminated": ["TERMINATED", "cancelled"],
  "run.suspended": ["SUSPENDED", null],
  "run.resumed": ["RUNNING", "running"],
};

/** Fold one event; events at or below the last applied sequence number are ignored. */
export function applyEvent(overlay: RunOverlay, event: RunEvent): RunOverlay {
  if (event.seq <= overlay.lastSeq) return overlay;
  let next: RunOverlay = { ...overlay, lastSeq: event.seq };
  const data = (event.data ?? {}) as Record<string, unknown>;
  if (event.type === "status") return { ...applyStatus(next, data as unknown as RunStatus), lastSeq: event.seq };
  const nodeState = NODE_EVENT_STATUS[event.type];
  if (nodeState && event.nodeId) {
    const id = event.nodeId;
    next.nodeStatus = { ...next.nodeStatus, [id]: nodeState };
    if (event.type === "node.started" || event.type === "node.retrying")
      next.attempts = { ...next.attempts, [id]: (next.attempts[id] ?? 0) + 1 };
    const current = new Set(next.currentNodeIds);
    if (nodeState === "running" || nodeState === "waiting") current.add(id);
    else current.delete(id);
    next.currentNodeIds = [...current];
    if (event.type === "approval.requested") {
      next.phase = "awaiting_approval";
      next.pendingApproval = {
        nodeId: id,
        eventName: String(data.eventName ?? `approval_${id}`),
        message: (data.message as string | undefined) ?? null,
      };
    }
    if (event.type === "approval.answered" || event.type === "approval.timed_out") {
      next.pendingApproval = null;
      next.phase = "running";
    }
  }
  const run = RUN_EVENT_STATUS[event.type];
  if (run) {
    next.runtimeStatus = run[0];
    const phase = (data.phase as Phase | undefined) ?? run[1];
    if (phase) next.phase = phase;
    if (typeof data.progress === "number") next.progress = data.progress;
    if (isTerminal(run[0])) {
      next.currentNodeIds = [];
      next.pendingApproval = null;
      if (run[0] === "COMPLETED") next.progress = 100;
    }
    if (data.error !== undefined) next.error = data.error;
  }
  if (typeof data.progress === "number") next.progress = data.progress;
  return next;
}
