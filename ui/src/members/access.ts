// Who may do what with a project's API keys, members and invitations: the UI's reading of
// admin-api's permission matrix (admin-api enforces it; this only decides which buttons show),
// and the pure helpers of the API keys and Members pages.

export const ROLES = ["viewer", "editor", "admin", "owner"] as const;
export type Role = (typeof ROLES)[number];
export type Scope = "company" | "organization" | "project";

/** The roles an API key can have (never owner). */
export const API_KEY_ROLES: Role[] = ["viewer", "editor", "admin"];

export function rank(role: string | null | undefined): number {
  const i = ROLES.indexOf(role as Role);
  return i < 0 ? 0 : i + 1;
}

export function atLeast(role: string | null | undefined, minimum: Role): boolean {
  return rank(role) >= rank(minimum);
}

export function highest(...roles: (string | null | undefined)[]): Role | null {
  let best: Role | null = null;
  for (const r of roles) if (rank(r) > rank(best)) best = r as Role;
  return best;
}

/** `apikeys.manage`: admins and owners (people only). */
export const canManageKeys = (role: string | null | undefined) => atLeast(role, "admin");
/** `members.manage`: admins and owners; the owner role only by owners. */
export const canManageMembers = (role: string | null | undefined) => atLeast(role, "admin");

/** Roles the caller may grant (invite, add, change to). */
export function grantableRoles(myRole: string | null | undefined): Role[] {
  if (!canManageMembers(myRole)) return [];
  return myRole === "owner" ? [...ROLES] : ROLES.filter((r) => r !== "owner");
}

/** Whether the caller may change or remove a member holding `memberRole` here. */
export function canChangeMember(myRole: string | null | undefined, memberRole: string): boolean {
  if (!canManageMembers(myRole)) return false;
  return memberRole !== "owner" || myRole === "owner";
}

export interface Member {
  userId: string;
  email: string;
  displayName?: string;
  role: string;
  scopeType: string;
  scopeId: string;
  createdAt?: string;
}

export interface MemberRow {
  userId: string;
  email: string;
  displayName: string;
  /** The membership on this scope, if any (the one that can be changed here). */
  direct: Member | null;
  /** Memberships on the ancestors that give a role here. */
  inherited: { scope: Scope; name: string; role: string }[];
  /** The role the member has here: the highest of all of them. */
  effective: Role | null;
}

export interface ScopeMembers {
  scope: Scope;
  name: string;
  members: Member[];
}

/** One row per person: the scope's own members and, marked inherited, those of its
 * ancestors (a membership on a company or organization gives its role on everything
 * inside). `own` is the scope being shown; `ancestors` are outermost first. */
export function mergeMembers(own: ScopeMembers, ancestors: ScopeMembers[]): MemberRow[] {
  const rows = new Map<string, MemberRow>();
  const row = (m: Member): MemberRow => {
    let r = rows.get(m.userId);
    if (!r) {
      r = { userId: m.userId, email: m.email, displayName: m.displayName ?? "", direct: null, inherited: [], effective: null };
      rows.set(m.userId, r);
    }
    return r;
  };
  for (const m of own.members) row(m).direct = m;
  for (const a of ancestors) for (const m of a.members) row(m).inherited.push({ scope: a.scope, name: a.name, role: m.role });
  for (const r of rows.values()) r.effective = highest(r.direct?.role, ...r.inherited.map((i) => i.role));
  return [...rows.values()].sort(
    (a, b) => Number(!a.direct) - Number(!b.direct) || rank(b.effective) - rank(a.effective) || a.email.localeCompare(b.email),
  );
}

export interface ApiKey {
  id: string;
  projectId: string;
  name: string;
  prefix: string;
  role: string;
  createdBy?: string;
  createdAt: string;
  expiresAt?: string | null;
  lastUsedAt?: string | null;
  revokedAt?: string | null;
}

export type KeyState = "active" | "revoked" | "expired";

export function keyState(key: ApiKey, now: number = Date.now()): KeyState {
  if (key.revokedAt) return "revoked";
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return "expired";
  return "active";
}

/** Active keys first (newest first), then the ended ones. */
export function sortKeys(keys: ApiKey[], now: number = Date.now()): ApiKey[] {
  return [...keys].sort(
    (a, b) =>
      Number(keyState(a, now) !== "active") - Number(keyState(b, now) !== "active") ||
      Date.parse(b.createdAt) - Date.parse(a.createdAt),
  );
}

/** What a CLI user types to run workflows with a new key (the README's `wfb run`). */
export function cliHint(key: string): string {
  return `export WFB_TOKEN=${key}\nuv run wfb run workflow.json   # WFB_URL: the orchestrator, default http://127.0.0.1:8080`;
}

/** The invitation token of an accept link (`/invitations/accept?token=wfi_...`). */
export function invitationToken(search: string): string | null {
  const token = new URLSearchParams(search).get("token")?.trim();
  return token ? token : null;
}

export function scopeLabel(scope: string): string {
  return scope === "organization" ? "organization" : scope;
}
