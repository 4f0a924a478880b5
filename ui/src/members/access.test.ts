import { describe, expect, it } from "vitest";
import type { TenantCompany } from "../api/types";
import { projectForInvitation } from "../pages/AcceptInvitationPage";
import {
  canChangeMember,
  canManageKeys,
  cliHint,
  grantableRoles,
  highest,
  invitationToken,
  keyState,
  mergeMembers,
  sortKeys,
  type ApiKey,
  type Member,
} from "./access";

const member = (userId: string, role: string, scopeType = "project"): Member => ({
  userId,
  email: `${userId}@example.com`,
  displayName: userId.toUpperCase(),
  role,
  scopeType,
  scopeId: "x",
});

describe("who sees which buttons (admin-api's matrix)", () => {
  it("lets only admins and owners manage keys", () => {
    expect(["viewer", "editor", "admin", "owner", null, "bogus"].map(canManageKeys)).toEqual([false, false, true, true, false, false]);
  });
  it("lets only owners grant or touch the owner role", () => {
    expect(grantableRoles("owner")).toEqual(["viewer", "editor", "admin", "owner"]);
    expect(grantableRoles("admin")).toEqual(["viewer", "editor", "admin"]);
    expect(grantableRoles("editor")).toEqual([]);
    expect(canChangeMember("admin", "owner")).toBe(false);
    expect(canChangeMember("admin", "admin")).toBe(true);
    expect(canChangeMember("owner", "owner")).toBe(true);
    expect(canChangeMember("viewer", "viewer")).toBe(false);
  });
  it("takes the highest role, ignoring unknown ones", () => {
    expect(highest("viewer", null, "admin", "editor")).toBe("admin");
    expect(highest(undefined, "superuser")).toBeNull();
  });
});

describe("mergeMembers", () => {
  const project = { scope: "project" as const, name: "Launch", members: [member("bob", "editor"), member("ann", "viewer")] };
  const org = { scope: "organization" as const, name: "Ops", members: [member("bob", "admin", "organization")] };
  const company = { scope: "company" as const, name: "Acme", members: [member("ada", "owner", "company")] };

  it("lists direct members first and marks inherited ones with where they come from", () => {
    const rows = mergeMembers(project, [company, org]);
    expect(rows.map((r) => r.userId)).toEqual(["bob", "ann", "ada"]);
    const ada = rows[2];
    expect(ada.direct).toBeNull();
    expect(ada.inherited).toEqual([{ scope: "company", name: "Acme", role: "owner" }]);
    expect(ada.effective).toBe("owner");
  });
  it("gives a member with both the highest role as the effective one, keeping the direct one editable", () => {
    const bob = mergeMembers(project, [company, org]).find((r) => r.userId === "bob")!;
    expect(bob.direct?.role).toBe("editor");
    expect(bob.effective).toBe("admin");
    expect(bob.inherited.map((i) => i.scope)).toEqual(["organization"]);
  });
  it("shows nothing inherited when no ancestor could be read", () => {
    expect(mergeMembers(project, []).every((r) => r.inherited.length === 0)).toBe(true);
  });
});

describe("API keys", () => {
  const key = (id: string, createdAt: string, extra: Partial<ApiKey> = {}): ApiKey => ({
    id,
    projectId: "p",
    name: id,
    prefix: `wfb_${id}`,
    role: "editor",
    createdAt,
    ...extra,
  });
  const now = Date.parse("2025-06-01T00:00:00Z");

  it("is revoked, expired or active", () => {
    expect(keyState(key("a", "2025-01-01T00:00:00Z"), now)).toBe("active");
    expect(keyState(key("a", "2025-01-01T00:00:00Z", { revokedAt: "2025-02-01T00:00:00Z" }), now)).toBe("revoked");
    expect(keyState(key("a", "2025-01-01T00:00:00Z", { expiresAt: "2025-05-31T00:00:00Z" }), now)).toBe("expired");
    expect(keyState(key("a", "2025-01-01T00:00:00Z", { expiresAt: "2025-07-01T00:00:00Z" }), now)).toBe("active");
  });
  it("sorts active keys first, newest first", () => {
    const keys = [
      key("old", "2025-01-01T00:00:00Z"),
      key("gone", "2025-05-01T00:00:00Z", { revokedAt: "2025-05-02T00:00:00Z" }),
      key("new", "2025-04-01T00:00:00Z"),
    ];
    expect(sortKeys(keys, now).map((k) => k.id)).toEqual(["new", "old", "gone"]);
  });
  it("tells the CLI user how to use the key", () => {
    expect(cliHint("wfb_abc_secret").split("\n")[0]).toBe("export WFB_TOKEN=wfb_abc_secret");
    expect(cliHint("wfb_abc_secret")).toContain("wfb run");
  });
});

describe("invitation links", () => {
  it("reads the token of admin-api's accept link", () => {
    expect(invitationToken("?token=wfi_abc")).toBe("wfi_abc");
    expect(invitationToken("?token=")).toBeNull();
    expect(invitationToken("")).toBeNull();
  });
  it("opens the invited project, or the first one inside an invited organization or company", () => {
    const tree: TenantCompany[] = [
      { id: "c1", name: "Acme", organizations: [{ id: "o1", name: "Ops", projects: [{ id: "p1", name: "One" }, { id: "p2", name: "Two" }] }] },
    ];
    const inv = { id: "i", email: "x@example.com", role: "editor", scopeId: "p2", scopeType: "project" as const };
    expect(projectForInvitation(tree, inv)).toEqual({ id: "p2", name: "Two" });
    expect(projectForInvitation(tree, { ...inv, scopeType: "organization", scopeId: "o1" })?.id).toBe("p1");
    expect(projectForInvitation(tree, { ...inv, scopeType: "company", scopeId: "c1" })?.id).toBe("p1");
    expect(projectForInvitation(tree, { ...inv, scopeId: "elsewhere" })).toBeNull();
  });
});
