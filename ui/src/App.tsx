import { useEffect } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { onUnauthorized } from "./api/client";
import { Layout, Toasts } from "./app/Layout";
import { useApp } from "./app/appStore";
import { Spinner } from "./components/ui";
import { EditorPage } from "./editor/EditorPage";
import { AcceptInvitationPage } from "./pages/AcceptInvitationPage";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { AuditPage } from "./pages/AuditPage";
import { LoginPage, RegisterPage } from "./pages/AuthPages";
import { CredentialsPage } from "./pages/CredentialsPage";
import { FunctionsPage } from "./pages/FunctionsPage";
import { MembersPage } from "./pages/MembersPage";
import { SetupPage } from "./pages/SetupPage";
import { WorkflowsPage } from "./pages/WorkflowsPage";
import { RunComparePage } from "./runs/RunComparePage";
import { RunPage } from "./runs/RunPage";
import { RunsPage } from "./runs/RunsPage";

function RequireUser({ children }: { children: React.ReactNode }) {
  const user = useApp((s) => s.user);
  const location = useLocation();
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function SessionWatcher() {
  const navigate = useNavigate();
  const setUser = useApp((s) => s.setUser);
  useEffect(
    () =>
      onUnauthorized(() => {
        setUser(null);
        navigate("/login");
      }),
    [navigate, setUser],
  );
  return null;
}

export function App() {
  const ready = useApp((s) => s.ready);
  const init = useApp((s) => s.init);
  useEffect(() => {
    void init();
  }, [init]);
  if (!ready)
    return (
      <div className="boot">
        <Spinner label="Starting" />
      </div>
    );
  return (
    <BrowserRouter>
      <SessionWatcher />
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/register" element={<RegisterPage />} />
        <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
        <Route
          element={
            <RequireUser>
              <Layout />
            </RequireUser>
          }
        >
          <Route path="/" element={<Navigate to="/workflows" replace />} />
          <Route path="/workflows" element={<WorkflowsPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/compare" element={<RunComparePage />} />
          <Route path="/runs/:runId" element={<RunPage />} />
          <Route path="/functions" element={<FunctionsPage />} />
          <Route path="/credentials" element={<CredentialsPage />} />
          <Route path="/api-keys" element={<ApiKeysPage />} />
          <Route path="/members" element={<MembersPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="/setup" element={<SetupPage />} />
        </Route>
        <Route
          path="/workflows/:workflowId"
          element={
            <RequireUser>
              <EditorPage />
            </RequireUser>
          }
        />
        <Route path="*" element={<Navigate to="/workflows" replace />} />
      </Routes>
      <Toasts />
    </BrowserRouter>
  );
}
