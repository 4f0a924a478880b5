// The product shell: sidebar with tenant switcher and navigation, toasts, main area.
import { NavLink, Outlet, useNavigate } from "react-router-dom";
import { Spinner } from "../components/ui";
import { findProject, useApp } from "./appStore";

export function TenantSwitcher() {
  const companies = useApp((s) => s.companies);
  const projectId = useApp((s) => s.projectId);
  const choose = useApp((s) => s.chooseProject);
  const path = findProject(companies, projectId);
  const company = path?.company ?? companies[0];
  const organization = path?.organization ?? company?.organizations[0];
  const pickFirst = (orgs: typeof company.organizations) => {
    for (const o of orgs) for (const p of o.projects) return p.id;
    return null;
  };
  return (
    <div className="tenant-switcher" aria-label="Tenant">
      <label htmlFor="ts-company">Company</label>
      <select
        id="ts-company"
        value={company?.id ?? ""}
        onChange={(e) => {
          const c = companies.find((x) => x.id === e.target.value);
          const p = c && pickFirst(c.organizations);
          if (p) choose(p);
        }}
      >
        {companies.map((c) => (
          <option key={c.id} value={c.id}>
            {c.name}
          </option>
        ))}
      </select>
      <label htmlFor="ts-org">Organization</label>
      <select
        id="ts-org"
        value={organization?.id ?? ""}
        onChange={(e) => {
          const o = company?.organizations.find((x) => x.id === e.target.value);
          if (o?.projects[0]) choose(o.projects[0].id);
        }}
      >
        {company?.organizations.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
      <label htmlFor="ts-project">Project</label>
      <select id="ts-project" value={projectId ?? ""} onChange={(e) => choose(e.target.value)}>
        {organization?.projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      {path?.project.role && (
        <p className="tenant-role">
          Your role: <strong data-testid="project-role">{path.project.role}</strong>
        </p>
      )}
    </div>
  );
}

export function Layout() {
  const user = useApp((s) => s.user);
  const logout = useApp((s) => s.logout);
  const tenantsReady = useApp((s) => s.tenantsReady);
  const navigate = useNavigate();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          <span>Workflow Builder</span>
        </div>
        <TenantSwitcher />
        <nav aria-label="Main">
          <NavLink to="/workflows">Workflows</NavLink>
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/functions">Functions</NavLink>
          <NavLink to="/credentials">Credentials</NavLink>
          <NavLink to="/api-keys">API keys</NavLink>
          <NavLink to="/members">Members</NavLink>
          <NavLink to="/audit">Audit log</NavLink>
          <NavLink to="/setup">New project</NavLink>
        </nav>
        <div className="sidebar-foot">
          <div className="user" title={user?.email}>
            <span className="avatar" aria-hidden="true">
              {(user?.displayName || user?.name || user?.email || "?").slice(0, 1).toUpperCase()}
            </span>
            <span className="user-email">{user?.email}</span>
          </div>
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            onClick={async () => {
              await logout();
              navigate("/login");
            }}
          >
            Log out
          </button>
        </div>
      </aside>
      <main id="main" className="main" tabIndex={-1}>
        {tenantsReady ? <Outlet /> : <Spinner label="Loading projects" />}
      </main>
    </div>
  );
}

export function Toasts() {
  const toasts = useApp((s) => s.toasts);
  const dismiss = useApp((s) => s.dismiss);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`}>
          <span>{t.text}</span>
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
