// Where an invitation link lands (admin-api builds `<public url>/invitations/accept?token=...`):
// log in or register first, then accept; the new membership's project opens.
import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { ApiError, errorMessage } from "../api/client";
import { memberApi, type Invitation } from "../api/endpoints";
import { useApp } from "../app/appStore";
import { ErrorBox } from "../components/ui";
import { invitationToken } from "../members/access";
import { AuthCard } from "./AuthPages";
import type { TenantCompany } from "../api/types";

/** The project to open after joining: the invited project, else the first one inside the
 * invited organization or company. */
export function projectForInvitation(companies: TenantCompany[], inv: Invitation): { id: string; name: string } | null {
  for (const c of companies)
    for (const o of c.organizations)
      for (const p of o.projects) {
        const inside =
          (inv.scopeType === "project" && p.id === inv.scopeId) ||
          (inv.scopeType === "organization" && o.id === inv.scopeId) ||
          (inv.scopeType === "company" && c.id === inv.scopeId);
        if (inside) return { id: p.id, name: p.name };
      }
  return null;
}

export function AcceptInvitationPage() {
  const location = useLocation();
  const navigate = useNavigate();
  const user = useApp((s) => s.user);
  const loadTenants = useApp((s) => s.loadTenants);
  const chooseProject = useApp((s) => s.chooseProject);
  const logout = useApp((s) => s.logout);
  const token = invitationToken(location.search);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [wrongUser, setWrongUser] = useState(false);
  const [joined, setJoined] = useState<{ inv: Invitation; project: { id: string; name: string } | null } | null>(null);
  const here = location.pathname + location.search;

  if (!token)
    return (
      <AuthCard title="Invitation">
        <ErrorBox error="This link has no invitation token: open the whole link you were given." />
        <p className="center"><Link to="/">Go to the builder</Link></p>
      </AuthCard>
    );

  if (!user)
    return (
      <AuthCard title="You are invited">
        <p className="muted">
          Log in, or create an account with the email address the invitation was sent to, then accept it here.
        </p>
        <div className="stack">
          <Link className="btn btn-primary btn-block" to="/login" state={{ from: here }}>Log in to accept</Link>
          <Link className="btn btn-block" to="/register" state={{ from: here }}>Create an account</Link>
        </div>
      </AuthCard>
    );

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      const inv = await memberApi.accept(token);
      await loadTenants();
      const project = projectForInvitation(useApp.getState().companies, inv);
      if (project) chooseProject(project.id);
      setJoined({ inv, project });
    } catch (err) {
      setWrongUser(err instanceof ApiError && err.status === 403);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (joined)
    return (
      <AuthCard title="Invitation accepted">
        <p data-testid="joined">
          You are now <strong>{joined.inv.role}</strong> on the {joined.inv.scopeType}
          {joined.project && joined.inv.scopeType === "project" ? <> <strong>{joined.project.name}</strong></> : null}.
        </p>
        <button type="button" className="btn btn-primary btn-block" onClick={() => navigate("/workflows")}>
          {joined.project ? `Open ${joined.project.name}` : "Open the builder"}
        </button>
      </AuthCard>
    );

  return (
    <AuthCard title="You are invited">
      <p className="muted">
        Signed in as <strong>{user.email}</strong>. Accepting adds you with the role the invitation names.
      </p>
      <ErrorBox error={error} />
      {wrongUser && (
        <button
          type="button"
          className="btn btn-block"
          onClick={async () => {
            await logout();
            navigate("/login", { state: { from: here } });
          }}
        >
          Log out and use the invited account
        </button>
      )}
      <button type="button" className="btn btn-primary btn-block" disabled={busy} onClick={() => void accept()}>
        {busy ? "Accepting…" : "Accept invitation"}
      </button>
    </AuthCard>
  );
}
