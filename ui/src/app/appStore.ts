// App-wide state: who is logged in, the tenant tree and the chosen project, toasts.
import { useMemo } from "react";
import { create } from "zustand";
import { errorMessage } from "../api/client";
import { sessionApi, tenantApi } from "../api/endpoints";
import type { TenantCompany, TenantProject, User } from "../api/types";

const PROJECT_KEY = "wfb.projectId";

export interface Toast {
  id: number;
  kind: "info" | "success" | "error";
  text: string;
}

export interface ProjectPath {
  company: TenantCompany;
  organization: TenantCompany["organizations"][number];
  project: TenantProject;
}

interface AppState {
  ready: boolean;
  tenantsReady: boolean;
  user: User | null;
  companies: TenantCompany[];
  projectId: string | null;
  toasts: Toast[];
  init(): Promise<void>;
  setUser(user: User | null): void;
  loadTenants(): Promise<void>;
  chooseProject(id: string): void;
  logout(): Promise<void>;
  toast(kind: Toast["kind"], text: string): void;
  dismiss(id: number): void;
}

let toastSeq = 0;

export function findProject(companies: TenantCompany[], id: string | null): ProjectPath | null {
  for (const company of companies)
    for (const organization of company.organizations)
      for (const project of organization.projects) if (project.id === id) return { company, organization, project };
  return null;
}

function firstProject(companies: TenantCompany[]): string | null {
  for (const c of companies) for (const o of c.organizations) for (const p of o.projects) return p.id;
  return null;
}

export const useApp = create<AppState>()((set, get) => ({
  ready: false,
  tenantsReady: false,
  user: null,
  companies: [],
  projectId: localStorage.getItem(PROJECT_KEY),
  toasts: [],

  async init() {
    // The session decides what to show; the tenant tree loads behind it (the editor does
    // not need it, the pages that do wait for `tenantsReady`).
    try {
      const s = await sessionApi.session();
      set({ user: s.authenticated ? s.user : null, ready: true });
      performance.mark("wfb:session");
      if (s.authenticated) await get().loadTenants();
    } catch (err) {
      get().toast("error", errorMessage(err));
    } finally {
      set({ ready: true });
    }
  },
  setUser(user) {
    set({ user });
  },
  async loadTenants() {
    const companies = await tenantApi.tree();
    const current = get().projectId;
    const projectId = findProject(companies, current) ? current : firstProject(companies);
    if (projectId) localStorage.setItem(PROJECT_KEY, projectId);
    set({ companies, projectId, tenantsReady: true });
  },
  chooseProject(id) {
    localStorage.setItem(PROJECT_KEY, id);
    set({ projectId: id });
  },
  async logout() {
    try {
      await sessionApi.logout();
    } finally {
      set({ user: null, companies: [] });
    }
  },
  toast(kind, text) {
    const id = ++toastSeq;
    set({ toasts: [...get().toasts, { id, kind, text }] });
    setTimeout(() => get().dismiss(id), kind === "error" ? 8000 : 4000);
  },
  dismiss(id) {
    set({ toasts: get().toasts.filter((t) => t.id !== id) });
  },
}));

export function useProject(): ProjectPath | null {
  const companies = useApp((s) => s.companies);
  const id = useApp((s) => s.projectId);
  return useMemo(() => findProject(companies, id), [companies, id]);
}
