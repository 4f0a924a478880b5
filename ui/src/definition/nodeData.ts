// Per-node data on the canvas: a discriminated union on `kind`, one variant per node type.
import type { JsonObject } from "./types";

interface BaseData {
  label: string;
  description?: string;
  enabled: boolean;
  /** Fields of the serialized node this editor does not model, kept for a lossless round trip. */
  extra?: JsonObject;
  [key: string]: unknown;
}

export interface WebhookOptions extends JsonObject {
  mode?: "async" | "sync";
  auth?: "hmac" | "bearer" | "none";
  syncTimeoutSeconds?: number;
  rateLimitPerMinute?: number;
  /** HMAC replay window: a signature is valid this many seconds around its timestamp. */
  toleranceSeconds?: number;
}

export interface TriggerConfig extends JsonObject {
  triggerType?: "manual" | "webhook" | "schedule" | "event";
  inputSchema?: JsonObject;
  // schedule
  cron?: string;
  timezone?: string;
  intervalSeconds?: number;
  missedPolicy?: "skip" | "run_once";
  overlapPolicy?: "allow" | "skip" | "queue";
  // event
  topic?: string;
  pubsubName?: string;
  filter?: string;
  deadLetterTopic?: string;
  // webhook
  webhook?: WebhookOptions;
}

export interface RetryConfig extends JsonObject {
  maxAttempts?: number;
  initialIntervalSeconds?: number;
  backoffCoefficient?: number;
  maxIntervalSeconds?: number;
}

export interface ActionConfig extends JsonObject {
  actionId?: string;
  retry?: RetryConfig;
  timeoutSeconds?: number;
  onError?: "stop" | "continue" | "compensate";
  compensate?: { actionId: string; input?: JsonObject };
}

export interface ConditionConfig extends JsonObject {
  expression?: string;
}

export interface ApprovalConfig extends JsonObject {
  eventName?: string;
  timeoutHours?: number;
  timeoutSeconds?: number;
  message?: string;
  approvers?: string[];
}

export interface TimerConfig extends JsonObject {
  durationSeconds?: number;
  durationMinutes?: number;
  durationHours?: number;
  duration?: number | string;
  durationUnit?: string;
  until?: string;
}

export interface PublishEventConfig extends JsonObject {
  topic?: string;
  pubsubName?: string;
  data?: unknown;
}

export interface LoopConfig extends JsonObject {
  items?: string | unknown[];
  concurrency?: number;
  actionId?: string;
  maxItems?: number;
  onError?: "stop" | "continue";
  body?: JsonObject;
}

export interface SubWorkflowConfig extends JsonObject {
  workflowId?: string;
  version?: number | "active" | "latest";
  input?: unknown;
}

export type TriggerData = BaseData & { kind: "trigger"; config: TriggerConfig };
export type ActionData = BaseData & { kind: "action"; alias?: "activity"; config: ActionConfig };
export type ConditionData = BaseData & { kind: "condition"; config: ConditionConfig };
export type ApprovalData = BaseData & { kind: "approval-gate"; config: ApprovalConfig };
export type TimerData = BaseData & { kind: "timer"; config: TimerConfig };
export type PublishEventData = BaseData & { kind: "publish-event"; config: PublishEventConfig };
export type LoopData = BaseData & { kind: "loop"; alias?: "for-each"; config: LoopConfig };
export type SubWorkflowData = BaseData & { kind: "sub-workflow"; config: SubWorkflowConfig };

export type WorkflowNodeData =
  | TriggerData
  | ActionData
  | ConditionData
  | ApprovalData
  | TimerData
  | PublishEventData
  | LoopData
  | SubWorkflowData;

export type NodeKind = WorkflowNodeData["kind"];
export type DataOf<K extends NodeKind> = Extract<WorkflowNodeData, { kind: K }>;
