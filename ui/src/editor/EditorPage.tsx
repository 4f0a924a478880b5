// The workflow editor: palette, canvas, properties, problems, toolbar, history, run overlay.
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { errorMessage } from "../api/client";
import { loadWorkflow } from "../api/prefetch";
import { catalogApi, runApi, workflowApi } from "../api/endpoints";
import type { WorkflowSummary } from "../api/types";
import { useApp } from "../app/appStore";
import { ErrorBox, Modal, Spinner, StatusPill, downloadFile } from "../components/ui";
import { parseDefinitionText, slugify, starterDefinition, toJson, toYaml } from "../definition/io";
import { sourceHandles, type WorkflowDefinition } from "../definition/types";
import { Canvas, fitTo } from "./Canvas";
import { checkConnection } from "./graph/analysis";
import type { FlowEdge, FlowNode } from "./graph/convert";
import { HistoryPanel } from "./HistoryPanel";
import { Palette, type PaletteItem } from "./Palette";
import { ProblemsPanel } from "./ProblemsPanel";
import { PropertyPanel } from "./PropertyPanel";
import { RunBanner, RunDialog } from "./RunControls";
import { TriggersPanel } from "./TriggersPanel";
import { EditorStoreProvider, useEditor, useEditorStoreApi } from "./store/context";
import { useEditorShortcuts } from "./useEditorShortcuts";

export function EditorPage() {
  const { workflowId } = useParams();
  const [workflow, setWorkflow] = useState<WorkflowSummary | null>(null);
  const [definition, setDefinition] = useState<WorkflowDefinition | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!workflowId) return;
    loadWorkflow(workflowId)
      .then((wf) => {
        if (!wf) return;
        performance.mark("wfb:workflow-loaded");
        setWorkflow(wf);
        setDefinition(wf.definition ?? starterDefinition(slugify(wf.name), wf.name));
      })
      .catch((err) => setError(errorMessage(err)));
  }, [workflowId]);
  if (error)
    return (
      <div className="page">
        <ErrorBox error={error} />
        <Link to="/workflows">Back to workflows</Link>
      </div>
    );
  if (!workflow || !definition) return <div className="page"><Spinner label="Loading workflow" /></div>;
  return (
    <EditorStoreProvider initial={definition}>
      <ReactFlowProvider>
        <Editor workflow={workflow} setWorkflow={setWorkflow} />
      </ReactFlowProvider>
    </EditorStoreProvider>
  );
}

function Editor({ workflow, setWorkflow }: { workflow: WorkflowSummary; setWorkflow: (w: WorkflowSummary) => void }) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const toast = useApp((s) => s.toast);
  const dirty = useEditor((s) => s.dirty);
  const canUndo = useEditor((s) => s.past.length > 0);
  const canRedo = useEditor((s) => s.future.length > 0);
  const errorCount = useEditor((s) => s.clientIssues.filter((i) => i.severity === "error").length + s.serverIssues.filter((i) => i.severity === "error").length);
  const [dialog, setDialog] = useState<null | "save" | "run" | "history" | "triggers" | "shortcuts">(null);
  const [showProblems, setShowProblems] = useState(true);
  const fileRef = useRef<HTMLInputElement>(null);

  // The catalog, for palettes, forms and validation.
  useEffect(() => {
    catalogApi.functions().then((f) => store.getState().setCatalog(f)).catch((err) => toast("error", `Function catalog: ${errorMessage(err)}`));
  }, [store, toast]);

  // Full server-side validation shortly after every change.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let controller: AbortController | null = null;
    const validate = () => {
      controller?.abort();
      controller = new AbortController();
      catalogApi
        .validate(store.getState().toDefinition(), controller.signal)
        .then((r) => store.getState().setServerIssues(r.issues))
        .catch(() => undefined);
    };
    validate();
    const unsubscribe = store.subscribe((s, prev) => {
      if (s.nodes === prev.nodes && s.edges === prev.edges && s.meta === prev.meta) return;
      if (s.nodes !== prev.nodes && s.nodes.length === prev.nodes.length && s.edges === prev.edges && sameGraphData(s.nodes, prev.nodes)) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(validate, 700);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      controller?.abort();
    };
  }, [store]);

  // Warn before leaving with unsaved changes.
  useEffect(() => {
    const onBefore = (e: BeforeUnloadEvent) => {
      if (store.getState().dirty) e.preventDefault();
    };
    window.addEventListener("beforeunload", onBefore);
    return () => window.removeEventListener("beforeunload", onBefore);
  }, [store]);

  const addItem = useCallback(
    (item: PaletteItem, position?: { x: number; y: number }) => {
      const s = store.getState();
      const selected = s.nodes.find((n) => n.selected);
      let at = position;
      if (!at) {
        if (selected) at = { x: selected.position.x + 280, y: selected.position.y };
        else {
          const rect = document.querySelector(".canvas")?.getBoundingClientRect();
          at = rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2 - 110, y: rect.top + rect.height / 2 - 36 }) : { x: 0, y: 0 };
        }
      }
      if (item.kind === "trigger" && s.nodes.some((n) => n.data.kind === "trigger")) {
        toast("error", "A workflow has exactly one trigger");
        return;
      }
      const id = s.addNode(item.kind, at, item.actionId ? { actionId: item.actionId } : undefined, item.label);
      if (!position && selected) {
        const handles = sourceHandles(selected.data.kind);
        const connection = { source: selected.id, target: id, sourceHandle: handles ? handles[0] : null, targetHandle: null };
        if (checkConnection(connection, store.getState().nodes, store.getState().edges).ok) store.getState().connect(connection);
      }
    },
    [store, flow, toast],
  );

  const save = async (message: string) => {
    const def = store.getState().toDefinition();
    const result = await workflowApi.save(workflow.id, { ...def, id: workflow.id }, message);
    store.setState({ dirty: false });
    setWorkflow(await workflowApi.get(workflow.id));
    toast("success", result.created ? `Saved version ${result.version.version}` : "No changes since the last version");
  };

  const run = async (triggerData: unknown, saveMessage: string | null) => {
    if (saveMessage !== null) await save(saveMessage);
    const started = await runApi.start(workflow.id, triggerData);
    store.getState().startRun(started.instanceId);
    setDialog(null);
    toast("info", `Run ${started.instanceId} started`);
  };

  const deploy = async () => {
    try {
      if (store.getState().dirty) {
        toast("error", "Save your changes before deploying");
        return;
      }
      setWorkflow(workflow.status === "deployed" ? await workflowApi.stop(workflow.id) : await workflowApi.deploy(workflow.id, workflow.latestVersion ?? undefined));
      toast("success", workflow.status === "deployed" ? "Stopped" : "Deployed");
    } catch (err) {
      toast("error", errorMessage(err));
    }
  };

  const exportAs = (format: "json" | "yaml") => {
    const def = store.getState().toDefinition();
    const name = slugify(workflow.name);
    if (format === "json") downloadFile(`${name}.json`, toJson(def), "application/json");
    else downloadFile(`${name}.yaml`, toYaml(def), "application/yaml");
  };

  const importFile = async (file: File) => {
    try {
      const def = parseDefinitionText(await file.text());
      if (store.getState().dirty && !window.confirm("Replace the canvas with the imported workflow? Unsaved changes are lost.")) return;
      store.getState().load(def);
      store.setState({ dirty: true });
      setTimeout(() => fitTo(flow, null), 50);
      toast("success", `Imported ${def.nodes.length} nodes from ${file.name}; save to keep them`);
    } catch (err) {
      toast("error", `Import failed: ${errorMessage(err)}`);
    }
  };

  const focusNode = useCallback(
    (id: string) => {
      const node = store.getState().nodes.find((n) => n.id === id);
      if (!node) return;
      store.getState().select(id);
      void flow.setCenter(node.position.x + 110, node.position.y + 36, { zoom: 1, duration: 300 });
    },
    [store, flow],
  );

  useEditorShortcuts({
    save: () => setDialog("save"),
    layout: () => {
      store.getState().layout();
      setTimeout(() => fitTo(flow, null, { duration: 300 }), 30);
    },
    help: () => setDialog("shortcuts"),
  });

  return (
    <div className="editor">
      <header className="editor-bar">
        <Link to="/workflows" className="btn btn-ghost btn-sm" aria-label="Back to workflows">
          ←
        </Link>
        <div className="editor-title">
          <h1>{workflow.name}</h1>
          <div className="row-inline small muted">
            <StatusPill status={workflow.status} />
            <span>{workflow.latestVersion ? `v${workflow.latestVersion}` : "never saved"}</span>
            {workflow.activeVersion ? <span>· active v{workflow.activeVersion}</span> : null}
            {dirty && <span className="dirty" data-testid="dirty">· unsaved changes</span>}
          </div>
        </div>
        <div className="toolbar" role="toolbar" aria-label="Editor">
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => store.getState().undo()} disabled={!canUndo} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => store.getState().redo()} disabled={!canRedo} title="Redo (Ctrl+Shift+Z)">
            Redo
          </button>
          <button
            type="button"
            className="btn btn-ghost btn-sm"
            title="Auto-layout (L)"
            onClick={() => {
              store.getState().layout();
              setTimeout(() => fitTo(flow, null, { duration: 300 }), 30);
            }}
          >
            Layout
          </button>
          <span className="toolbar-sep" />
          <input
            ref={fileRef}
            type="file"
            hidden
            accept=".json,.yaml,.yml"
            aria-label="Import a definition into the canvas"
            data-testid="editor-import-file"
            onChange={(e) => {
              const f = e.target.files?.[0];
              e.target.value = "";
              if (f) void importFile(f);
            }}
          />
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => fileRef.current?.click()}>
            Import
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => exportAs("json")}>
            Export JSON
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => exportAs("yaml")}>
            Export YAML
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setDialog("history")}>
            History
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setDialog("triggers")} title="Trigger state, webhook URL and secret, firings">
            Triggers
          </button>
          <span className="toolbar-sep" />
          <button type="button" className="btn btn-sm" onClick={() => setDialog("save")} disabled={!dirty}>
            Save
          </button>
          <button type="button" className="btn btn-sm" onClick={() => void deploy()}>
            {workflow.status === "deployed" ? "Stop" : "Deploy"}
          </button>
          <button type="button" className="btn btn-primary btn-sm" onClick={() => setDialog("run")} disabled={errorCount > 0} title={errorCount ? "Fix the problems first" : "Run"}>
            Run
          </button>
        </div>
      </header>
      <RunBanner />
      <div className="editor-body">
        <Palette onAdd={(item) => addItem(item)} />
        <div className="editor-center">
          <Canvas onDropItem={(item, pos) => addItem(item, pos)} />
          <div className={`problems-wrap ${showProblems ? "" : "collapsed"}`}>
            <button type="button" className="problems-toggle" aria-expanded={showProblems} onClick={() => setShowProblems(!showProblems)}>
              {showProblems ? "Hide problems" : "Show problems"}
            </button>
            {showProblems && <ProblemsPanel onFocusNode={focusNode} />}
          </div>
        </div>
        <PropertyPanel />
      </div>
      {dialog === "save" && <SaveDialog onClose={() => setDialog(null)} onSave={async (m) => { await save(m); setDialog(null); }} />}
      {dialog === "run" && <RunDialog onClose={() => setDialog(null)} onStart={run} dirty={dirty} />}
      {dialog === "history" && (
        <HistoryPanel
          workflowId={workflow.id}
          onClose={() => setDialog(null)}
          onRestore={async (version, def) => {
            await workflowApi.restore(workflow.id, version, `Restored version ${version}`);
            store.getState().load(def);
            setWorkflow(await workflowApi.get(workflow.id));
            toast("success", `Restored version ${version} as a new version`);
            setDialog(null);
            setTimeout(() => fitTo(flow, null), 50);
          }}
        />
      )}
      {dialog === "triggers" && <TriggersPanel workflow={workflow} onClose={() => setDialog(null)} />}
      {dialog === "shortcuts" && <ShortcutsDialog onClose={() => setDialog(null)} />}
    </div>
  );
}

function sameGraphData(a: { data: unknown }[], b: { data: unknown }[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i].data !== b[i].data) return false;
  return true;
}

function SaveDialog({ onClose, onSave }: { onClose: () => void; onSave: (message: string) => Promise<void> }) {
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await onSave(message.trim() || "Update");
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return (
    <Modal title="Save a new version" onClose={onClose}>
      <form className="stack" onSubmit={submit}>
        <ErrorBox error={error} />
        <div className="field">
          <label htmlFor="save-message">What changed?</label>
          <input id="save-message" value={message} maxLength={1000} placeholder="e.g. Add manager approval" onChange={(e) => setMessage(e.target.value)} />
        </div>
        <div className="row-end">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" disabled={busy}>
            {busy ? "Saving…" : "Save version"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

const SHORTCUTS: [string, string][] = [
  ["Ctrl/⌘ + Z", "Undo"],
  ["Ctrl/⌘ + Shift + Z, Ctrl + Y", "Redo"],
  ["Ctrl/⌘ + C / V", "Copy / paste selected nodes"],
  ["Ctrl/⌘ + A", "Select all"],
  ["Delete / Backspace", "Delete selection"],
  ["Ctrl/⌘ + S", "Save a version"],
  ["L", "Auto-layout"],
  ["Tab, arrows", "Move focus between nodes, move the focused node"],
  ["?", "This help"],
];

function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose}>
      <table className="table">
        <tbody>
          {SHORTCUTS.map(([k, v]) => (
            <tr key={k}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
