// The editor store: a factory (one store per open editor) holding the graph, history,
// clipboard, issues and the live run overlay. Pure logic; React binds it in context.tsx.
import {
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { createStore, type StoreApi } from "zustand/vanilla";
import type { CatalogFunction, Issue, RunEvent, RunStatus } from "../../api/types";
import type { NodeKind, WorkflowNodeData } from "../../definition/nodeData";
import type { WorkflowDefinition } from "../../definition/types";
import { checkConnection } from "../graph/analysis";
import {
  definitionToFlow,
  flowToDefinition,
  initialSize,
  type FlowEdge,
  type FlowNode,
  type WorkflowMeta,
} from "../graph/convert";
import { autoLayout } from "../graph/layout";
import { dedupeIssues } from "../graph/issues";
import { clientIssues } from "../graph/validate";
import { newNodeData, specOf } from "../nodes/specs";
import { applyEvent, applyStatus, emptyOverlay, type RunOverlay } from "./runOverlay";

const HISTORY_LIMIT = 100;
const COALESCE_MS = 1000;

interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
  meta: WorkflowMeta;
}

export interface EditorState {
  meta: WorkflowMeta;
  nodes: FlowNode[];
  edges: FlowEdge[];
  catalog: Map<string, CatalogFunction>;
  catalogLoaded: boolean;
  past: Snapshot[];
  future: Snapshot[];
  clipboard: { nodes: FlowNode[]; edges: FlowEdge[] } | null;
  clientIssues: Issue[];
  serverIssues: Issue[];
  /** Per node: "errors|warnings|first message", what its validation marker shows. */
  issueMarks: Map<string, string>;
  connectionError: string | null;
  dirty: boolean;
  run: RunOverlay | null;

  load(def: WorkflowDefinition): void;
  toDefinition(): WorkflowDefinition;
  setCatalog(functions: CatalogFunction[]): void;
  setMeta(patch: Partial<WorkflowMeta>): void;
  checkpoint(): void;
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void;
  connect(connection: Connection): boolean;
  addNode(kind: NodeKind, position: { x: number; y: number }, config?: Record<string, unknown>, label?: string): string;
  updateNode(id: string, patch: Partial<Pick<WorkflowNodeData, "label" | "description" | "enabled">>): void;
  updateConfig(id: string, config: Record<string, unknown>): void;
  select(id: string | null): void;
  deleteSelection(): void;
  undo(): void;
  redo(): void;
  copy(): number;
  paste(): number;
  selectAll(): void;
  layout(): void;
  setServerIssues(issues: Issue[]): void;
  startRun(instanceId: string): void;
  applyRunStatus(status: RunStatus): void;
  applyRunEvent(event: RunEvent): void;
  clearRun(): void;
}

export type EditorStore = StoreApi<EditorState>;

function uniqueId(kind: string, taken: Set<string>): string {
  const base = kind.replace(/[^a-z]/g, "").slice(0, 8) || "node";
  for (;;) {
    const id = `${base}-${Math.random().toString(36).slice(2, 8)}`;
    if (!taken.has(id)) return id;
  }
}

function uniqueLabel(base: string, taken: Set<string>): string {
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base} ${i}`)) return `${base} ${i}`;
}

const emptyMeta = (): WorkflowMeta => ({ id: "untitled", name: "Untitled workflow", version: "1.0.0" });

/** A measured node: React Flow's own handle bounds replace the estimates. */
function withoutEstimates(node: FlowNode): FlowNode {
  const { handles: _estimates, ...rest } = node;
  return rest;
}

function issues(client: Issue[], server: Issue[]): Pick<EditorState, "clientIssues" | "serverIssues" | "issueMarks"> {
  const marks = new Map<string, [number, number, string]>();
  for (const i of dedupeIssues(client, server)) {
    if (!i.nodeId) continue;
    const m = marks.get(i.nodeId) ?? [0, 0, ""];
    if (i.severity === "error") m[0]++;
    else m[1]++;
    m[2] ||= i.message;
    marks.set(i.nodeId, m);
  }
  return {
    clientIssues: client,
    serverIssues: server,
    issueMarks: new Map([...marks].map(([id, [e, w, first]]) => [id, `${e}|${w}|${first}`])),
  };
}

export function createEditorStore(initial?: WorkflowDefinition): EditorStore {
  const store = createStore<EditorState>()((set, get) => {
    const revalidate = (nodes: FlowNode[], edges: FlowEdge[]) =>
      clientIssues(nodes, edges, { catalog: get()?.catalog ?? new Map(), catalogLoaded: get()?.catalogLoaded ?? false });

    let lastKey: string | null = null;
    let lastAt = 0;

    /** Apply a graph mutation: record history, mark dirty, re-run instant checks. Edits with
     * the same `coalesce` key in quick succession (typing in one field) share one undo step. */
    const mutate = (next: Partial<Snapshot>, record = true, coalesce: string | null = null) => {
      const s = get();
      const nodes = next.nodes ?? s.nodes;
      const edges = next.edges ?? s.edges;
      const now = Date.now();
      if (coalesce && coalesce === lastKey && now - lastAt < COALESCE_MS) record = false;
      lastKey = coalesce;
      lastAt = now;
      const past = record ? [...s.past, { nodes: s.nodes, edges: s.edges, meta: s.meta }].slice(-HISTORY_LIMIT) : s.past;
      set({
        nodes,
        edges,
        meta: next.meta ?? s.meta,
        past,
        future: record || coalesce ? [] : s.future,
        dirty: true,
        ...issues(revalidate(nodes, edges), s.serverIssues),
        connectionError: null,
      });
    };

    return {
      meta: emptyMeta(),
      nodes: [],
      edges: [],
      catalog: new Map(),
      catalogLoaded: false,
      past: [],
      future: [],
      clipboard: null,
      clientIssues: [],
      serverIssues: [],
      issueMarks: new Map(),
      connectionError: null,
      dirty: false,
      run: null,

      load(def) {
        const { meta, nodes, edges } = definitionToFlow(def);
        set({ meta, nodes, edges, past: [], future: [], dirty: false, ...issues(revalidate(nodes, edges), []) });
      },
      toDefinition() {
        const s = get();
        return flowToDefinition(s.meta, s.nodes, s.edges);
      },
      setCatalog(functions) {
        const catalog = new Map(functions.map((f) => [f.slug, f]));
        set({ catalog, catalogLoaded: true });
        set(issues(revalidate(get().nodes, get().edges), get().serverIssues));
      },
      setMeta(patch) {
        mutate({ meta: { ...get().meta, ...patch } });
      },
      checkpoint() {
        const s = get();
        set({ past: [...s.past, { nodes: s.nodes, edges: s.edges, meta: s.meta }].slice(-HISTORY_LIMIT), future: [] });
      },
      onNodesChange(changes) {
        const structural = changes.some((c) => c.type === "remove" || c.type === "add" || c.type === "replace");
        const moved = changes.some((c) => c.type === "position" && !c.dragging && c.position);
        let nodes = applyNodeChanges(changes, get().nodes);
        const measured = new Set(changes.filter((c) => c.type === "dimensions").map((c) => c.id));
        if (measured.size) nodes = nodes.map((n) => (measured.has(n.id) && n.handles ? withoutEstimates(n) : n));
        if (structural) {
          const removed = new Set(changes.filter((c) => c.type === "remove").map((c) => (c as { id: string }).id));
          const edges = get().edges.filter((e) => !removed.has(e.source) && !removed.has(e.target));
          mutate({ nodes, edges });
        } else if (moved) {
          set({ nodes, dirty: true });
        } else {
          set({ nodes });
        }
      },
      onEdgesChange(changes) {
        const structural = changes.some((c) => c.type === "remove" || c.type === "add");
        const edges = applyEdgeChanges(changes, get().edges);
        if (structural) mutate({ edges });
        else set({ edges });
      },
      connect(connection) {
        const s = get();
        const check = checkConnection(connection, s.nodes, s.edges);
        if (!check.ok) {
          set({ connectionError: check.reason });
          return false;
        }
        const handle = connection.sourceHandle ?? undefined;
        const id = `e-${connection.source}-${connection.target}${handle ? `-${handle}` : ""}`;
        const edges = addEdge({ ...connection, id, label: handle }, s.edges);
        mutate({ edges });
        return true;
      },
      addNode(kind, position, config, label) {
        const s = get();
        const id = uniqueId(kind, new Set(s.nodes.map((n) => n.id)));
        const data = newNodeData(kind, uniqueLabel(label ?? specOf(kind).defaultLabel, new Set(s.nodes.map((n) => n.data.label))));
        if (config) data.config = { ...data.config, ...config } as typeof data.config;
        const node: FlowNode = { id, type: kind, position, data, selected: true, ...initialSize(kind) };
        mutate({ nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node] });
        return id;
      },
      updateNode(id, patch) {
        mutate(
          { nodes: get().nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...patch } as WorkflowNodeData } : n)) },
          true,
          `node:${id}:${Object.keys(patch).join(",")}`,
        );
      },
      updateConfig(id, config) {
        mutate(
          { nodes: get().nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, config } as WorkflowNodeData } : n)) },
          true,
          `config:${id}`,
        );
      },
      select(id) {
        set({
          nodes: get().nodes.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })),
          edges: get().edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
        });
      },
      deleteSelection() {
        const s = get();
        const removed = new Set(s.nodes.filter((n) => n.selected).map((n) => n.id));
        const edges = s.edges.filter((e) => !e.selected && !removed.has(e.source) && !removed.has(e.target));
        if (!removed.size && edges.length === s.edges.length) return;
        mutate({ nodes: s.nodes.filter((n) => !removed.has(n.id)), edges });
      },
      undo() {
        const s = get();
        const prev = s.past[s.past.length - 1];
        if (!prev) return;
        set({
          ...prev,
          past: s.past.slice(0, -1),
          future: [{ nodes: s.nodes, edges: s.edges, meta: s.meta }, ...s.future],
          dirty: true,
          ...issues(revalidate(prev.nodes, prev.edges), s.serverIssues),
        });
      },
      redo() {
        const s = get();
        const next = s.future[0];
        if (!next) return;
        set({
          ...next,
          past: [...s.past, { nodes: s.nodes, edges: s.edges, meta: s.meta }],
          future: s.future.slice(1),
          dirty: true,
          ...issues(revalidate(next.nodes, next.edges), s.serverIssues),
        });
      },
      copy() {
        const s = get();
        const nodes = s.nodes.filter((n) => n.selected);
        const ids = new Set(nodes.map((n) => n.id));
        const edges = s.edges.filter((e) => ids.has(e.source) && ids.has(e.target));
        if (nodes.length) set({ clipboard: { nodes: structuredClone(nodes), edges: structuredClone(edges) } });
        return nodes.length;
      },
      paste() {
        const s = get();
        if (!s.clipboard?.nodes.length) return 0;
        const taken = new Set(s.nodes.map((n) => n.id));
        const labels = new Set(s.nodes.map((n) => n.data.label));
        const rename = new Map<string, string>();
        const pasted = s.clipboard.nodes
          .filter((n) => n.data.kind !== "trigger" || !s.nodes.some((m) => m.data.kind === "trigger"))
          .map((n) => {
            const id = uniqueId(n.data.kind, taken);
            taken.add(id);
            rename.set(n.id, id);
            const label = uniqueLabel(n.data.label, labels);
            labels.add(label);
            return {
              ...structuredClone(n),
              id,
              selected: true,
              position: { x: n.position.x + 40, y: n.position.y + 40 },
              data: { ...structuredClone(n.data), label },
            } as FlowNode;
          });
        const edges = s.clipboard.edges
          .filter((e) => rename.has(e.source) && rename.has(e.target))
          .map((e) => ({ ...e, id: `e-${rename.get(e.source)}-${rename.get(e.target)}${e.sourceHandle ? `-${e.sourceHandle}` : ""}`, source: rename.get(e.source)!, target: rename.get(e.target)!, selected: false }));
        mutate({ nodes: [...s.nodes.map((n) => ({ ...n, selected: false })), ...pasted], edges: [...s.edges, ...edges] });
        set({ clipboard: { nodes: pasted.map((n) => ({ ...n, selected: false })), edges } });
        return pasted.length;
      },
      selectAll() {
        set({ nodes: get().nodes.map((n) => ({ ...n, selected: true })) });
      },
      layout() {
        mutate({ nodes: autoLayout(get().nodes, get().edges) });
      },
      setServerIssues(list) {
        set(issues(get().clientIssues, list.map((i) => ({ ...i, source: "server" as const }))));
      },
      startRun(instanceId) {
        set({ run: emptyOverlay(instanceId) });
      },
      applyRunStatus(status) {
        const run = get().run;
        if (run && run.instanceId === status.instanceId) set({ run: applyStatus(run, status) });
      },
      applyRunEvent(event) {
        const run = get().run;
        if (run && run.instanceId === event.instanceId) set({ run: applyEvent(run, event) });
      },
      clearRun() {
        set({ run: null });
      },
    };
  });
  if (initial) store.getState().load(initial);
  performance.mark("wfb:store-loaded");
  return store;
}
