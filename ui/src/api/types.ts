// Shapes the BFF returns to the UI.
import type { JsonObject, WorkflowDefinition } from "../definition/types";

export interface User {
  id: string;
  email: string;
  name?: string;
  displayName?: string;
}

export interface TenantProject {
  id: string;
  name: string;
  slug?: string;
  role?: string | null;
}
export interface TenantOrganization {
  id: string;
  name: string;
  slug?: string;
  role?: string | null;
  projects: TenantProject[];
}
export interface TenantCompany {
  id: string;
  name: string;
  slug?: string;
  role?: string | null;
  organizations: TenantOrganization[];
}

export interface CatalogFunction {
  slug: string;
  name: string;
  description?: string | null;
  pluginId: string;
  category?: string | null;
  executionType?: string;
  version?: string;
  inputSchema?: JsonObject | null;
  outputSchema?: JsonObject | null;
  integrationType?: string | null;
  isBuiltin?: boolean;
  isEnabled?: boolean;
  isDeprecated?: boolean;
  [extra: string]: unknown;
}

export interface WorkflowSummary {
  id: string;
  projectId: string;
  name: string;
  description?: string | null;
  status: string; // draft | deployed | stopped
  activeVersion?: number | null;
  latestVersion?: number | null;
  updatedAt?: string | null;
  lastRun?: RunSummary | null;
  [extra: string]: unknown;
}

export interface WorkflowDetail extends WorkflowSummary {
  definition: WorkflowDefinition;
}

export interface WorkflowVersion {
  version: number;
  message?: string | null;
  author?: string | null;
  createdAt?: string | null;
  sha256?: string | null;
  definition?: WorkflowDefinition;
  [extra: string]: unknown;
}

export type RuntimeStatus = "RUNNING" | "COMPLETED" | "FAILED" | "TERMINATED" | "PENDING" | "SUSPENDED";
export type Phase =
  | "pending"
  | "running"
  | "awaiting_approval"
  | "completed"
  | "failed"
  | "rejected"
  | "timed_out"
  | "cancelled";

export interface RunSummary {
  instanceId: string;
  workflowId: string;
  runtimeStatus: RuntimeStatus;
  phase?: Phase;
  startedAt?: string | null;
  completedAt?: string | null;
  labels?: Record<string, string>;
  [extra: string]: unknown;
}

export interface PendingApproval {
  nodeId: string;
  eventName: string;
  message?: string | null;
}

export interface RunStatus extends RunSummary {
  progress: number;
  message?: string | null;
  currentNodeIds: string[];
  outputs: Record<string, unknown>;
  error?: unknown;
  pendingApproval?: PendingApproval | null;
}

export type StepStatus =
  | "pending"
  | "running"
  | "completed"
  | "failed"
  | "skipped"
  | "waiting"
  | "compensated";

export interface TimelineNode {
  nodeId: string;
  label?: string;
  type?: string;
  status: StepStatus;
  attempts?: number;
  startedAt?: string | null;
  completedAt?: string | null;
  durationMs?: number | null;
  input?: unknown;
  output?: unknown;
  error?: unknown;
  compensation?: unknown;
  /** Why a node was skipped, or the branch a condition/approval took. */
  reason?: string | null;
  route?: string | null;
  attemptErrors?: unknown[];
}

export interface Timeline {
  instanceId: string;
  nodes: TimelineNode[];
}

export interface RunEvent {
  seq: number;
  instanceId: string;
  type: string;
  nodeId?: string;
  at: string;
  data?: JsonObject;
}

export interface Issue {
  code: string;
  message: string;
  nodeId?: string | null;
  edgeId?: string | null;
  field?: string | null;
  severity: "error" | "warning";
  source?: "client" | "server";
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export type TriggerKind = "manual" | "webhook" | "schedule" | "event";

/** A trigger of a workflow's active version, as admin-api keeps it. */
export interface TriggerState {
  id: string;
  nodeId: string;
  kind: TriggerKind;
  active: boolean;
  version?: number | null;
  generation?: number | null;
  config?: JsonObject;
  lastFiredAt?: string | null;
  nextFireAt?: string | null;
  lastError?: string | null;
  lastErrorAt?: string | null;
  webhookPath?: string | null;
}

export type FiringStatus = "pending" | "started" | "skipped" | "queued" | "missed" | "failed" | "duplicate";

export interface Firing {
  id: string;
  triggerId?: string | null;
  kind: TriggerKind;
  occurrenceKey?: string | null;
  firedAt: string;
  status: FiringStatus;
  instanceId?: string | null;
  error?: string | null;
  [extra: string]: unknown;
}
