// Members of the current project, or of its organization or company: roles (inherited ones
// marked), role changes, removal, invitations by link.
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/client";
import { memberApi, type Invitation, type InvitationCreated } from "../api/endpoints";
import { useApp, useProject, type ProjectPath } from "../app/appStore";
import { CopyButton } from "../components/CopyButton";
import { Empty, ErrorBox, Field, Modal, Spinner, formatTime } from "../components/ui";
import {
  canChangeMember,
  canManageMembers,
  grantableRoles,
  mergeMembers,
  type MemberRow,
  type Scope,
  type ScopeMembers,
} from "../members/access";

interface ScopeRef {
  scope: Scope;
  id: string;
  name: string;
  role: string | null;
}

/** The project and the ancestors the caller has a role on (only those list members). */
function scopesOf(path: ProjectPath): ScopeRef[] {
  const all: ScopeRef[] = [
    { scope: "project", id: path.project.id, name: path.project.name, role: path.project.role ?? null },
    { scope: "organization", id: path.organization.id, name: path.organization.name, role: path.organization.role ?? null },
    { scope: "company", id: path.company.id, name: path.company.name, role: path.company.role ?? null },
  ];
  return all.filter((s) => s.scope === "project" || s.role);
}

async function listOrNull(ref: ScopeRef): Promise<ScopeMembers | null> {
  try {
    return { scope: ref.scope, name: ref.name, members: await memberApi.list(ref.scope, ref.id) };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return null;
    throw err;
  }
}

export function MembersPage() {
  const project = useProject();
  const user = useApp((s) => s.user);
  const toast = useApp((s) => s.toast);
  const scopes = useMemo(() => (project ? scopesOf(project) : []), [project]);
  const [scopeName, setScopeName] = useState<Scope>("project");
  const current = scopes.find((s) => s.scope === scopeName) ?? scopes[0];
  const [rows, setRows] = useState<MemberRow[] | null>(null);
  const [hidden, setHidden] = useState(false);
  const [invitations, setInvitations] = useState<Invitation[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("viewer");
  const [invited, setInvited] = useState<InvitationCreated | null>(null);
  const [removing, setRemoving] = useState<MemberRow | null>(null);
  const myRole = current?.role ?? null;
  const manage = canManageMembers(myRole);

  const load = useCallback(async () => {
    if (!current) return;
    try {
      const ancestors = scopes.slice(scopes.indexOf(current) + 1).reverse();
      const [own, ...above] = await Promise.all([
        memberApi.list(current.scope, current.id).then((members) => ({ scope: current.scope, name: current.name, members })),
        ...ancestors.map(listOrNull),
      ]);
      const readable = above.filter((a): a is ScopeMembers => a !== null);
      setRows(mergeMembers(own, readable));
      // Ancestors the caller is not a member of are not listed: say so under the table.
      setHidden(current.scope !== "company" && readable.length < (current.scope === "project" ? 2 : 1));
      setInvitations(await memberApi.invitations(current.scope, current.id));
    } catch (err) {
      setError(errorMessage(err));
      setRows((r) => r ?? []);
    }
  }, [current, scopes]);
  useEffect(() => {
    setRows(null);
    setError(null);
    setInvited(null);
    void load();
  }, [load]);

  if (!project || !current) return <div className="page"><Empty title="Choose a project first" /></div>;
  const roles = grantableRoles(myRole);

  const change = async (row: MemberRow, next: string) => {
    setError(null);
    try {
      await memberApi.change(current.scope, current.id, row.userId, next);
      toast("success", `${row.email} is now ${next} here`);
    } catch (err) {
      setError(errorMessage(err));
    }
    void load();
  };
  const remove = async (row: MemberRow) => {
    setRemoving(null);
    setError(null);
    try {
      await memberApi.remove(current.scope, current.id, row.userId);
      toast("success", `Removed ${row.email}`);
    } catch (err) {
      setError(errorMessage(err));
    }
    void load();
  };
  const invite = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      setInvited(await memberApi.invite(current.scope, current.id, email.trim(), role));
      setEmail("");
      void load();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const revokeInvitation = async (inv: Invitation) => {
    try {
      await memberApi.revokeInvitation(inv.id);
      toast("success", `Withdrew the invitation of ${inv.email}`);
    } catch (err) {
      setError(errorMessage(err));
    }
    void load();
  };

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <p className="eyebrow">{current.name}</p>
          <h1>Members</h1>
          <p className="muted">
            A role on a company or organization applies to everything inside it. Your role on this {current.scope}:{" "}
            <strong data-testid="my-scope-role">{myRole ?? "none"}</strong>.
          </p>
        </div>
      </header>
      {scopes.length > 1 && (
        <div className="segmented" role="group" aria-label="Scope">
          {scopes.map((s) => (
            <button key={s.scope} type="button" className={`btn btn-sm${s.scope === current.scope ? " btn-primary" : ""}`}
              aria-pressed={s.scope === current.scope} onClick={() => setScopeName(s.scope)}>
              {s.scope === "project" ? "Project" : s.scope === "organization" ? "Organization" : "Company"}: {s.name}
            </button>
          ))}
        </div>
      )}
      <ErrorBox error={error} />
      <div className="grid-main-side align-start">
        <div className="stack">
          <div className="card card-flush">
            {rows === null ? <Spinner /> : rows.length === 0 ? <Empty title="No members here yet" /> : (
              <table className="table" aria-label="Members">
                <thead>
                  <tr>
                    <th scope="col">Member</th>
                    <th scope="col">Role</th>
                    <th scope="col">Access</th>
                    <th scope="col"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => {
                    const editable = r.direct !== null && canChangeMember(myRole, r.direct.role);
                    return (
                      <tr key={r.userId} data-testid="member-row">
                        <td>
                          <div className="strong">{r.displayName || r.email}{r.userId === user?.id && <span className="muted"> (you)</span>}</div>
                          {r.displayName && <div className="muted small">{r.email}</div>}
                        </td>
                        <td>
                          {r.direct && editable ? (
                            <select aria-label={`Role of ${r.email}`} value={r.direct.role} onChange={(e) => void change(r, e.target.value)}>
                              {[...new Set([...roles, r.direct.role])].map((x) => <option key={x} value={x}>{x}</option>)}
                            </select>
                          ) : (
                            <span className="strong">{r.direct?.role ?? r.effective}</span>
                          )}
                          {r.direct && r.effective !== r.direct.role && <div className="muted small">effective: {r.effective}</div>}
                        </td>
                        <td className="small">
                          {r.direct && <span className="pill pill-direct">direct</span>}
                          {r.inherited.map((i) => (
                            <div key={i.scope} className="muted" data-testid="inherited">
                              <span className="pill pill-inherited">inherited</span> {i.role} on {i.scope} {i.name}
                            </div>
                          ))}
                        </td>
                        <td>
                          {editable && (
                            <button type="button" className="btn btn-ghost btn-sm" aria-label={`Remove ${r.email}`} onClick={() => setRemoving(r)}>
                              Remove
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
            {hidden && (
              <p className="muted small pad">People with a role on an enclosing organization or company you are not a member of are not listed.</p>
            )}
          </div>
          <div className="card card-flush">
            <h2 className="pad">Pending invitations</h2>
            {invitations.length === 0 ? <p className="muted pad">None.</p> : (
              <table className="table" aria-label="Pending invitations">
                <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
                <tbody>
                  {invitations.map((inv) => (
                    <tr key={inv.id} data-testid="invitation-row">
                      <td>{inv.email}</td>
                      <td>{inv.role}</td>
                      <td className="muted small">{formatTime(inv.expiresAt)}</td>
                      <td>
                        {manage && (
                          <button type="button" className="btn btn-ghost btn-sm" aria-label={`Withdraw the invitation of ${inv.email}`}
                            onClick={() => void revokeInvitation(inv)}>
                            Withdraw
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </div>
        {manage ? (
          <form className="card stack" onSubmit={invite} aria-label="Invite someone">
            <h2>Invite someone</h2>
            <Field label="Email" htmlFor="inv-email">
              <input id="inv-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            </Field>
            <Field label="Role" htmlFor="inv-role" hint={myRole === "owner" ? undefined : "Only owners grant the owner role."}>
              <select id="inv-role" value={role} onChange={(e) => setRole(e.target.value)}>
                {roles.map((r) => <option key={r} value={r}>{r}</option>)}
              </select>
            </Field>
            <div className="row-end"><button className="btn btn-primary">Create invitation</button></div>
            {invited && (
              <div className="stack" data-testid="invitation-result">
                <p>
                  No email is sent: give <strong>{invited.email}</strong> this link. It works once, for that address, until{" "}
                  {formatTime(invited.expiresAt)}.
                </p>
                <div className="copy-row">
                  <code data-testid="invitation-link">{invited.acceptUrl}</code>
                  <CopyButton text={invited.acceptUrl} label="Copy link" />
                </div>
              </div>
            )}
          </form>
        ) : (
          <div className="card">
            <p className="muted">Admins and owners invite people and change roles.</p>
          </div>
        )}
      </div>
      {removing && (
        <Modal
          title={`Remove ${removing.email}?`}
          onClose={() => setRemoving(null)}
          footer={
            <div className="row-end">
              <button type="button" className="btn" onClick={() => setRemoving(null)}>Cancel</button>
              <button type="button" className="btn btn-danger" onClick={() => void remove(removing)}>Remove member</button>
            </div>
          }
        >
          <p>
            They lose their {removing.direct?.role} role on this {current.scope}
            {removing.inherited.length > 0 ? ", but keep what they inherit from above." : "."}
          </p>
        </Modal>
      )}
    </div>
  );
}
