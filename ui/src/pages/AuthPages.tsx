// Login and registration.
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { errorMessage } from "../api/client";
import { sessionApi } from "../api/endpoints";
import { useApp } from "../app/appStore";
import { ErrorBox } from "../components/ui";

/** Where to go after logging in: the page that sent the user here (an invitation link). */
function useReturnTo(): string | null {
  const from = (useLocation().state as { from?: string } | null)?.from;
  return from && from.startsWith("/") && !from.startsWith("//") ? from : null;
}

export function AuthCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div className="auth-page">
      <div className="auth-card">
        <div className="brand brand-lg">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>
          <span>Workflow Builder</span>
        </div>
        <h1>{title}</h1>
        {children}
      </div>
    </div>
  );
}

export function LoginPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const returnTo = useReturnTo();
  const setUser = useApp((s) => s.setUser);
  const loadTenants = useApp((s) => s.loadTenants);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await sessionApi.login(email, password);
      setUser(user);
      await loadTenants();
      navigate(returnTo ?? "/workflows");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthCard title="Log in">
      <form onSubmit={submit} className="stack">
        <ErrorBox error={error} />
        <div className="field">
          <label htmlFor="login-email">Email</label>
          <input id="login-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <button className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
      <p className="muted center">
        New here? <Link to="/register" state={returnTo ? { from: returnTo } : undefined}>Create an account</Link>
      </p>
    </AuthCard>
  );
}

export function RegisterPage() {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const returnTo = useReturnTo();
  const setUser = useApp((s) => s.setUser);
  const loadTenants = useApp((s) => s.loadTenants);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await sessionApi.register(email, password, name);
      setUser(user);
      await loadTenants();
      const companies = useApp.getState().companies;
      navigate(returnTo ?? (companies.length ? "/workflows" : "/setup"));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthCard title="Create your account">
      <form onSubmit={submit} className="stack">
        <ErrorBox error={error} />
        <div className="field">
          <label htmlFor="reg-name">Name</label>
          <input id="reg-name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="reg-email">Email</label>
          <input id="reg-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="reg-password">Password</label>
          <input
            id="reg-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={10}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <div className="hint">At least 10 characters.</div>
        </div>
        <button className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Creating…" : "Create account"}
        </button>
      </form>
      <p className="muted center">
        Have an account? <Link to="/login" state={returnTo ? { from: returnTo } : undefined}>Log in</Link>
      </p>
    </AuthCard>
  );
}
