// Every call the UI makes. admin-api resources go through the BFF's /api/admin pass-through.
import type { WorkflowDefinition } from "../definition/types";
import { ApiError, api, qs } from "./client";
import { normalizeWebhook, type WebhookInfo } from "../triggers/webhook";
import type { ApiKey, Member, Scope } from "../members/access";
import type {
  CatalogFunction,
  Firing,
  Issue,
  Page,
  RunStatus,
  RunSummary,
  TenantCompany,
  Timeline,
  TriggerState,
  User,
  WorkflowDetail,
  WorkflowSummary,
  WorkflowVersion,
} from "./types";

const admin = (path: string) => `/api/admin/${path}`;

function itemsOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const b = body as { items?: T[] } | undefined;
  return b?.items ?? [];
}

export const sessionApi = {
  session: () => api<{ authenticated: boolean; user: User | null; csrfToken?: string }>("/api/auth/session", { quiet401: true }),
  login: (email: string, password: string) => api<{ user: User }>("/api/auth/login", { body: { email, password }, quiet401: true }),
  register: (email: string, password: string, name?: string) =>
    api<{ user: User }>("/api/auth/register", { body: { email, password, ...(name ? { name } : {}) }, quiet401: true }),

  logout: () => api<void>("/api/auth/logout", { method: "POST", quiet401: true }),
};

export const tenantApi = {
  tree: () => api<{ companies: TenantCompany[] }>("/api/tenants").then((r) => r.companies),
  createCompany: (name: string) => api<{ id: string }>(admin("companies"), { body: { name } }),
  createOrganization: (companyId: string, name: string) =>
    api<{ id: string }>(admin(`companies/${companyId}/organizations`), { body: { name } }),
  createProject: (organizationId: string, name: string) =>
    api<{ id: string }>(admin(`organizations/${organizationId}/projects`), { body: { name } }),
};

function normalizeWorkflow(raw: Record<string, unknown>): WorkflowSummary {
  return {
    ...raw,
    id: String(raw.id),
    projectId: String(raw.projectId ?? raw.project_id ?? ""),
    name: String(raw.name ?? ""),
    status: String(raw.status ?? "draft"),
    activeVersion: (raw.activeVersion ?? raw.active_version ?? null) as number | null,
    latestVersion: (raw.latestVersion ?? raw.latest_version ?? null) as number | null,
    updatedAt: (raw.updatedAt ?? raw.updated_at ?? null) as string | null,
  } as WorkflowSummary;
}

function normalizeVersion(raw: Record<string, unknown>): WorkflowVersion {
  const summary = (raw.version && typeof raw.version === "object" ? raw.version : raw) as Record<string, unknown>;
  raw = { ...summary, definition: raw.definition ?? summary.definition };
  return {
    ...raw,
    version: Number(raw.number ?? raw.version),
    message: (raw.message ?? null) as string | null,
    author: (raw.author ?? raw.authorLabel ?? raw.author_label ?? raw.authorId ?? null) as string | null,
    createdAt: (raw.createdAt ?? raw.created_at ?? null) as string | null,
    definition: raw.definition as WorkflowDefinition | undefined,
  };
}

export const workflowApi = {
  list: (projectId: string) =>
    api<{ items: Record<string, unknown>[] }>(`/api/projects/${projectId}/workflows`).then((r) =>
      r.items.map((w) => ({ ...normalizeWorkflow(w), lastRun: (w.lastRun ?? null) as RunSummary | null })),
    ),
  get: (id: string) => api<Record<string, unknown>>(admin(`workflows/${id}`)).then(normalizeWorkflow),
  create: (projectId: string, name: string, definition?: WorkflowDefinition, options: { description?: string; message?: string } = {}) =>
    api<Record<string, unknown>>(admin(`projects/${projectId}/workflows`), {
      body: {
        name,
        ...(options.description ? { description: options.description } : {}),
        ...(definition ? { definition, message: options.message ?? "Created" } : {}),
      },
    }).then(normalizeWorkflow),
  rename: (id: string, patch: { name?: string; description?: string }) =>
    api<Record<string, unknown>>(admin(`workflows/${id}`), { method: "PATCH", body: patch }).then(normalizeWorkflow),
  remove: (id: string) => api<void>(admin(`workflows/${id}`), { method: "DELETE" }),
  versions: (id: string) =>
    api<unknown>(admin(`workflows/${id}/versions`)).then((b) => itemsOf<Record<string, unknown>>(b).map(normalizeVersion)),
  version: (id: string, version: number) =>
    api<Record<string, unknown>>(admin(`workflows/${id}/versions/${version}`)).then(normalizeVersion),
  /** A new version when the definition changed (admin-api keeps identical saves as one). */
  save: (id: string, definition: WorkflowDefinition, message: string) =>
    api<Record<string, unknown>>(admin(`workflows/${id}/definition`), { method: "PUT", body: { definition, message } }).then(
      (r) => ({ created: r.created !== false, version: normalizeVersion(r) }),
    ),
  restore: (id: string, version: number, message: string) =>
    api<Record<string, unknown>>(admin(`workflows/${id}/versions/${version}/restore`), { body: { message } }).then(normalizeVersion),
  deploy: (id: string, version?: number) =>
    api<Record<string, unknown>>(admin(`workflows/${id}/deploy`), { body: version ? { version } : {} }).then(normalizeWorkflow),
  stop: (id: string) => api<Record<string, unknown>>(admin(`workflows/${id}/stop`), { method: "POST" }).then(normalizeWorkflow),
  /** The workflow and its latest definition, fetched together. */
  load: async (id: string): Promise<WorkflowDetail | null> => {
    const [wf, definition] = await Promise.all([
      workflowApi.get(id),
      api<WorkflowDefinition>(admin(`workflows/${id}/export?format=json`)).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      }),
    ]);
    return { ...wf, definition: definition as WorkflowDefinition };
  },
};

export const catalogApi = {
  functions: () => api<{ items: CatalogFunction[] }>("/api/functions").then((r) => r.items),
  register: (projectId: string, fn: Record<string, unknown>) =>
    api<CatalogFunction>(`/api/functions${qs({ projectId })}`, { body: fn }),
  validate: (definition: WorkflowDefinition, signal?: AbortSignal) =>
    api<{ ok: boolean; issues: Issue[] }>("/api/validate", { body: { definition }, signal }),
};

export interface RunFilters {
  status?: string;
  phase?: string;
  workflowId?: string;
  from?: string;
  to?: string;
  cursor?: string | null;
  limit?: number;
}

export const runApi = {
  start: (workflowId: string, triggerData: unknown, version?: number) =>
    api<{ instanceId: string; workflowId: string; status: string; version: number }>(`/api/workflows/${workflowId}/run`, {
      body: { triggerData, ...(version ? { version } : {}) },
    }),
  list: (projectId: string, filters: RunFilters) =>
    api<Page<RunSummary>>(`/api/projects/${projectId}/runs${qs({ ...filters })}`).then((r) => ({
      items: itemsOf<RunSummary>(r),
      nextCursor: r?.nextCursor ?? null,
    })),
  status: (id: string) => api<RunStatus>(`/api/runs/${id}`),
  timeline: (id: string) => api<Timeline>(`/api/runs/${id}/timeline`),
  approve: (id: string, nodeId: string, approved: boolean, reason?: string) =>
    api<unknown>(`/api/runs/${id}/approvals/${encodeURIComponent(nodeId)}`, {
      body: { approved, ...(reason ? { reason } : {}) },
    }),
  rerun: (id: string, fromNodeId: string) => api<{ instanceId: string }>(`/api/runs/${id}/rerun`, { body: { fromNodeId } }),
  replay: (id: string, triggerData?: unknown) =>
    api<{ instanceId: string }>(`/api/runs/${id}/replay`, { body: triggerData === undefined ? {} : { triggerData } }),
  control: (id: string, action: "terminate" | "pause" | "resume") => api<unknown>(`/api/runs/${id}/${action}`, { body: {} }),
  diff: (left: string, right: string) => api<unknown>(`/api/runs/diff${qs({ left, right })}`),
  eventsUrl: (id: string) => `/api/runs/${id}/events`,
};

export interface Credential {
  id: string;
  name: string;
  integration_type: string;
  field_names?: string[];
  created_at?: string;
  [extra: string]: unknown;
}

export const credentialApi = {
  list: (projectId: string) => api<unknown>(`/api/projects/${projectId}/credentials`).then((b) => itemsOf<Credential>(b)),
  create: (projectId: string, body: { name: string; integrationType: string; values: Record<string, string> }) =>
    api<Credential>(`/api/projects/${projectId}/credentials`, { body }),
  remove: (projectId: string, id: string) => api<void>(`/api/projects/${projectId}/credentials/${id}`, { method: "DELETE" }),
};

export interface AuditEntry {
  id: number;
  occurredAt: string;
  actorKind: string;
  actorLabel: string;
  action: string;
  resourceType?: string | null;
  resourceId?: string | null;
  success: boolean;
  ip?: string | null;
  detail?: unknown;
  [extra: string]: unknown;
}

export const auditApi = {
  list: (companyId: string, params: Record<string, string | undefined>) =>
    api<unknown>(admin(`companies/${companyId}/audit${qs(params)}`)).then((b) => ({
      items: itemsOf<AuditEntry>(b),
      nextCursor: ((b as { nextCursor?: string })?.nextCursor ?? null) as string | null,
    })),
};

export const triggerApi = {
  list: (workflowId: string) => api<unknown>(admin(`workflows/${workflowId}/triggers`)).then((b) => itemsOf<TriggerState>(b)),
  firings: (workflowId: string, cursor?: string | null, limit = 20) =>
    api<Page<Firing>>(admin(`workflows/${workflowId}/triggers/firings${qs({ cursor, limit })}`)).then((r) => ({
      items: itemsOf<Firing>(r),
      nextCursor: r?.nextCursor ?? null,
    })),
  webhook: (workflowId: string): Promise<WebhookInfo> =>
    api<Record<string, unknown>>(admin(`workflows/${workflowId}/webhook`)).then(normalizeWebhook),
  /** Admins only; audited. */
  revealSecret: (workflowId: string) =>
    api<{ secret: string }>(admin(`workflows/${workflowId}/webhook/secret`), { method: "POST" }).then((r) => r.secret),
  /** Admins only; audited. The new secret is shown once. */
  rotateSecret: (workflowId: string) =>
    api<{ secret: string }>(admin(`workflows/${workflowId}/webhook/secret/rotate`), { method: "POST" }).then((r) => r.secret),
};

export interface ApiKeyCreated extends ApiKey {
  /** The secret: admin-api shows it only in this response. */
  key: string;
}

/** A project's API keys (admins and owners; admin-api refuses API keys themselves). */
export const apiKeyApi = {
  list: (projectId: string) => api<unknown>(admin(`projects/${projectId}/api-keys?limit=200`)).then((b) => itemsOf<ApiKey>(b)),
  create: (projectId: string, body: { name: string; role: string; expiresInDays?: number }) =>
    api<ApiKeyCreated>(admin(`projects/${projectId}/api-keys`), { body }),
  revoke: (keyId: string) => api<void>(admin(`api-keys/${keyId}`), { method: "DELETE" }),
};

export interface Invitation {
  id: string;
  email: string;
  role: string;
  scopeType: Scope;
  scopeId: string;
  invitedBy?: string;
  createdAt?: string;
  expiresAt?: string;
  acceptedAt?: string | null;
  revokedAt?: string | null;
}

export interface InvitationCreated extends Invitation {
  token: string;
  acceptUrl: string;
}

const PLURAL: Record<Scope, string> = { company: "companies", organization: "organizations", project: "projects" };
const scopePath = (scope: Scope, id: string) => `${PLURAL[scope]}/${id}`;

/** Members and invitations of a company, organization or project (the same routes). */
export const memberApi = {
  list: (scope: Scope, id: string) => api<unknown>(admin(`${scopePath(scope, id)}/members?limit=200`)).then((b) => itemsOf<Member>(b)),
  change: (scope: Scope, id: string, userId: string, role: string) =>
    api<Member>(admin(`${scopePath(scope, id)}/members/${userId}`), { method: "PATCH", body: { role } }),
  remove: (scope: Scope, id: string, userId: string) => api<void>(admin(`${scopePath(scope, id)}/members/${userId}`), { method: "DELETE" }),
  invitations: (scope: Scope, id: string) =>
    api<unknown>(admin(`${scopePath(scope, id)}/invitations?limit=200`)).then((b) => itemsOf<Invitation>(b)),
  invite: (scope: Scope, id: string, email: string, role: string) =>
    api<InvitationCreated>(admin(`${scopePath(scope, id)}/invitations`), { body: { email, role } }),
  revokeInvitation: (invitationId: string) => api<void>(admin(`invitations/${invitationId}`), { method: "DELETE" }),
  accept: (token: string) => api<Invitation>(admin("invitations/accept"), { body: { token } }),
};
