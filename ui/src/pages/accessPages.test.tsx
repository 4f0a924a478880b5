// The API keys and Members pages against a stubbed BFF: who sees which buttons, the key
// shown once, admin-api's problem details shown as they are.
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useApp } from "../app/appStore";
import { ApiKeysPage } from "./ApiKeysPage";
import { MembersPage } from "./MembersPage";

type Handler = (method: string, url: string, body: unknown) => [number, unknown] | undefined;
let calls: { method: string; url: string; body: unknown }[] = [];

function stubFetch(handler: Handler) {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = init.method ?? "GET";
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      calls.push({ method, url, body });
      const [status, payload] = handler(method, url, body) ?? [404, { title: "Not Found", status: 404, detail: `no stub for ${url}` }];
      const type = status >= 400 ? "application/problem+json" : "application/json";
      return new Response(status === 204 ? null : JSON.stringify(payload), { status, headers: { "content-type": type } });
    }),
  );
}

function asRole(role: string, companyRole: string | null = null) {
  useApp.setState({
    user: { id: "u1", email: "ada@example.com" },
    projectId: "p1",
    tenantsReady: true,
    companies: [
      {
        id: "c1",
        name: "Acme",
        role: companyRole,
        organizations: [{ id: "o1", name: "Ops", role: companyRole, projects: [{ id: "p1", name: "Launch", role }] }],
      },
    ],
  });
}

const KEY = {
  id: "k1",
  projectId: "p1",
  name: "ci",
  prefix: "wfb_0123456789ab",
  role: "editor",
  createdBy: "u1",
  createdAt: "2025-01-01T00:00:00Z",
  expiresAt: null,
  lastUsedAt: null,
  revokedAt: null,
};

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const renderPage = (page: React.ReactNode) => render(<MemoryRouter>{page}</MemoryRouter>);

describe("ApiKeysPage", () => {
  it("tells editors that keys are for admins and asks admin-api nothing", async () => {
    stubFetch(() => [200, { items: [KEY] }]);
    asRole("editor");
    renderPage(<ApiKeysPage />);
    expect(screen.getByText("Admins only")).toBeTruthy();
    expect(screen.getByText(/your role here is editor/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Create key" })).toBeNull();
    expect(calls).toEqual([]);
  });

  it("shows a new key once, with the CLI hint, and never again after the dialog closes", async () => {
    let keys = [KEY];
    stubFetch((method, url, body) => {
      if (method === "GET" && url.startsWith("/api/admin/projects/p1/api-keys")) return [200, { items: keys }];
      if (method === "POST" && url === "/api/admin/projects/p1/api-keys") {
        const made = { ...KEY, id: "k2", name: (body as { name: string }).name, role: (body as { role: string }).role, prefix: "wfb_feedfacecafe" };
        keys = [...keys, made];
        return [201, { ...made, key: "wfb_feedfacecafe_TOPSECRET" }];
      }
    });
    asRole("admin");
    renderPage(<ApiKeysPage />);
    expect(await screen.findByText("wfb_0123456789ab…")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "laptop" } });
    fireEvent.change(screen.getByLabelText("Role"), { target: { value: "admin" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    const dialog = await screen.findByRole("dialog", { name: "API key created" });
    expect(within(dialog).getByTestId("new-api-key").textContent).toBe("wfb_feedfacecafe_TOPSECRET");
    expect(within(dialog).getByTestId("api-key-cli-hint").textContent).toContain("export WFB_TOKEN=wfb_feedfacecafe_TOPSECRET");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "laptop", role: "admin" });
    fireEvent.click(within(dialog).getByRole("button", { name: "Done" }));
    await screen.findByText("wfb_feedfacecafe…");
    expect(document.body.textContent).not.toContain("TOPSECRET");
  });

  it("revokes after confirmation and shows admin-api's refusal as its detail", async () => {
    stubFetch((method, url) => {
      if (method === "GET") return [200, { items: [KEY] }];
      if (method === "DELETE" && url === "/api/admin/api-keys/k1")
        return [403, { type: "about:blank", title: "Forbidden", status: 403, detail: "an API key may not apikeys.manage on this project" }];
    });
    asRole("owner");
    renderPage(<ApiKeysPage />);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke ci" }));
    expect(calls.filter((c) => c.method === "DELETE")).toEqual([]); // only after confirming
    fireEvent.click(within(screen.getByRole("dialog", { name: "Revoke ci?" })).getByRole("button", { name: "Revoke key" }));
    expect((await screen.findByRole("alert")).textContent).toBe("an API key may not apikeys.manage on this project");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.url)).toEqual(["/api/admin/api-keys/k1"]);
  });
});

describe("MembersPage", () => {
  const m = (userId: string, role: string, scopeType: string, scopeId: string) => ({
    userId,
    email: `${userId}@example.com`,
    displayName: "",
    role,
    scopeType,
    scopeId,
    createdAt: "2025-01-01T00:00:00Z",
  });

  it("marks inherited owners, lets the owner invite and shows the link", async () => {
    stubFetch((method, url, body) => {
      if (url.startsWith("/api/admin/projects/p1/members")) return [200, { items: [m("bob", "editor", "project", "p1")] }];
      if (url.startsWith("/api/admin/organizations/o1/members")) return [200, { items: [] }];
      if (url.startsWith("/api/admin/companies/c1/members")) return [200, { items: [m("u1", "owner", "company", "c1")] }];
      if (method === "GET" && url.startsWith("/api/admin/projects/p1/invitations")) return [200, { items: [] }];
      if (method === "POST" && url === "/api/admin/projects/p1/invitations")
        return [201, { id: "i1", ...(body as object), scopeType: "project", scopeId: "p1", token: "wfi_t", acceptUrl: "http://x/invitations/accept?token=wfi_t", expiresAt: "2025-01-08T00:00:00Z" }];
    });
    asRole("owner", "owner");
    renderPage(<MembersPage />);
    const rows = await screen.findAllByTestId("member-row");
    expect(rows.map((r) => r.textContent)).toEqual([expect.stringContaining("bob@example.com"), expect.stringContaining("u1@example.com")]);
    expect(within(rows[1]).getByTestId("inherited").textContent).toContain("owner on company Acme");
    expect(within(rows[1]).queryByRole("button", { name: /Remove/ })).toBeNull(); // inherited: not removable here
    expect(within(rows[0]).getByRole("combobox", { name: "Role of bob@example.com" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "eve@example.com" } });
    fireEvent.change(screen.getByLabelText("Role", { selector: "#inv-role" }), { target: { value: "editor" } });
    fireEvent.click(screen.getByRole("button", { name: "Create invitation" }));
    expect((await screen.findByTestId("invitation-link")).textContent).toBe("http://x/invitations/accept?token=wfi_t");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ email: "eve@example.com", role: "editor" });
  });

  it("shows the last-owner refusal as admin-api words it", async () => {
    stubFetch((method, url) => {
      if (method === "GET" && url.includes("/members")) return [200, { items: [m("u1", "owner", "company", "c1")] }];
      if (method === "GET" && url.includes("/invitations")) return [200, { items: [] }];
      if (method === "DELETE")
        return [409, { type: "about:blank", title: "Conflict", status: 409, detail: "the last owner of a company cannot be removed or demoted" }];
    });
    asRole("owner", "owner");
    renderPage(<MembersPage />);
    fireEvent.click(await screen.findByRole("button", { name: /Company: Acme/ }));
    await waitFor(() => expect(screen.getByTestId("my-scope-role").textContent).toBe("owner"));
    fireEvent.click(await screen.findByRole("button", { name: "Remove u1@example.com" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove member" }));
    expect((await screen.findByRole("alert")).textContent).toBe("the last owner of a company cannot be removed or demoted");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.url)).toEqual(["/api/admin/companies/c1/members/u1"]);
  });

  it("offers admins no owner role and no invite form to viewers", async () => {
    stubFetch((_method, url) => {
      if (url.includes("/members")) return [200, { items: [] }];
      if (url.includes("/invitations")) return [200, { items: [] }];
    });
    asRole("admin");
    renderPage(<MembersPage />);
    const select = (await screen.findByLabelText("Role", { selector: "#inv-role" })) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["viewer", "editor", "admin"]);
    cleanup();
    asRole("viewer");
    renderPage(<MembersPage />);
    expect(await screen.findByText("Admins and owners invite people and change roles.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Create invitation" })).toBeNull();
  });
});
