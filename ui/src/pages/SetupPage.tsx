// Create a project (and, when needed, its company and organization).
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { errorMessage } from "../api/client";
import { tenantApi } from "../api/endpoints";
import { useApp, useProject } from "../app/appStore";
import { ErrorBox } from "../components/ui";

export function SetupPage() {
  const companies = useApp((s) => s.companies);
  const current = useProject();
  const loadTenants = useApp((s) => s.loadTenants);
  const choose = useApp((s) => s.chooseProject);
  const toast = useApp((s) => s.toast);
  const navigate = useNavigate();
  const [companyId, setCompanyId] = useState(current?.company.id ?? companies[0]?.id ?? "__new");
  const [orgId, setOrgId] = useState(current?.organization.id ?? "__new");
  const [companyName, setCompanyName] = useState("");
  const [orgName, setOrgName] = useState("");
  const [projectName, setProjectName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const company = companies.find((c) => c.id === companyId);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const cid = companyId === "__new" ? (await tenantApi.createCompany(companyName)).id : companyId;
      const oid = companyId === "__new" || orgId === "__new" ? (await tenantApi.createOrganization(cid, orgName)).id : orgId;
      const project = await tenantApi.createProject(oid, projectName);
      await loadTenants();
      choose(project.id);
      toast("success", `Project ${projectName} created`);
      navigate("/workflows");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page page-narrow">
      <header className="page-head">
        <div>
          <h1>New project</h1>
          <p className="muted">Projects hold workflows, runs and credentials. They live in an organization of a company.</p>
        </div>
      </header>
      <form className="card stack" onSubmit={submit}>
        <ErrorBox error={error} />
        <div className="field">
          <label htmlFor="setup-company">Company</label>
          <select id="setup-company" value={companyId} onChange={(e) => { setCompanyId(e.target.value); setOrgId("__new"); }}>
            {companies.map((c) => (
              <option key={c.id} value={c.id}>{c.name}</option>
            ))}
            <option value="__new">+ New company</option>
          </select>
        </div>
        {companyId === "__new" && (
          <div className="field">
            <label htmlFor="setup-company-name">Company name</label>
            <input id="setup-company-name" required value={companyName} onChange={(e) => setCompanyName(e.target.value)} />
          </div>
        )}
        <div className="field">
          <label htmlFor="setup-org">Organization</label>
          <select id="setup-org" value={orgId} onChange={(e) => setOrgId(e.target.value)}>
            {company?.organizations.map((o) => (
              <option key={o.id} value={o.id}>{o.name}</option>
            ))}
            <option value="__new">+ New organization</option>
          </select>
        </div>
        {orgId === "__new" && (
          <div className="field">
            <label htmlFor="setup-org-name">Organization name</label>
            <input id="setup-org-name" required value={orgName} onChange={(e) => setOrgName(e.target.value)} />
          </div>
        )}
        <div className="field">
          <label htmlFor="setup-project-name">Project name</label>
          <input id="setup-project-name" required value={projectName} onChange={(e) => setProjectName(e.target.value)} />
        </div>
        <div className="row-end">
          <button className="btn btn-primary" disabled={busy}>
            {busy ? "Creating…" : "Create project"}
          </button>
        </div>
      </form>
    </div>
  );
}
