// The React Flow canvas: typed handles, connection rules, drag-and-drop, minimap.
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  useReactFlow,
  type FinalConnectionState,
  type Node,
} from "@xyflow/react";
import { useCallback, useEffect, useState, type DragEvent } from "react";
import type { WorkflowNodeData } from "../definition/nodeData";
import { checkConnection } from "./graph/analysis";
import { nodeTypes } from "./nodes/registry";
import { DND_TYPE, type PaletteItem } from "./Palette";
import { useEditor, useEditorStoreApi } from "./store/context";

const STATUS_COLOURS: Record<string, string> = {
  running: "#2563eb",
  completed: "#16a34a",
  failed: "#dc2626",
  skipped: "#9ca3af",
  waiting: "#d97706",
  compensated: "#7c3aed",
};

export function Canvas({ onDropItem }: { onDropItem: (item: PaletteItem, position: { x: number; y: number }) => void }) {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const onNodesChange = useEditor((s) => s.onNodesChange);
  const onEdgesChange = useEditor((s) => s.onEdgesChange);
  const connect = useEditor((s) => s.connect);
  const checkpoint = useEditor((s) => s.checkpoint);
  const connectionError = useEditor((s) => s.connectionError);
  const runStatus = useEditor((s) => s.run?.nodeStatus);
  const store = useEditorStoreApi();
  const flow = useReactFlow();
  const [hint, setHint] = useState<string | null>(null);

  useEffect(() => {
    if (!connectionError) return;
    setHint(connectionError);
    const t = setTimeout(() => setHint(null), 3500);
    return () => clearTimeout(t);
  }, [connectionError]);

  const isValidConnection = useCallback(
    (c: { source: string; target: string; sourceHandle?: string | null }) => {
      const s = store.getState();
      return checkConnection(c, s.nodes, s.edges).ok;
    },
    [store],
  );

  const onConnectEnd = useCallback(
    (_e: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid || !state.toNode || !state.fromNode) return;
      const s = store.getState();
      const check = checkConnection(
        { source: state.fromNode.id, target: state.toNode.id, sourceHandle: state.fromHandle?.id ?? null },
        s.nodes,
        s.edges,
      );
      if (!check.ok) setHint(check.reason);
    },
    [store],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(DND_TYPE)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
    }
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const raw = e.dataTransfer.getData(DND_TYPE);
      if (!raw) return;
      e.preventDefault();
      const position = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      onDropItem(JSON.parse(raw) as PaletteItem, { x: position.x - 110, y: position.y - 36 });
    },
    [flow, onDropItem],
  );

  const styledEdges = runStatus
    ? edges.map((e) => {
        const from = runStatus[e.source];
        const to = runStatus[e.target];
        const taken = from === "completed" && to && to !== "skipped";
        return taken ? { ...e, animated: to === "running" || to === "waiting", style: { stroke: STATUS_COLOURS.completed, strokeWidth: 2 } } : e;
      })
    : edges;

  return (
    <div className="canvas" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
      <ReactFlow
        nodes={nodes}
        edges={styledEdges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={connect}
        onConnectEnd={onConnectEnd}
        isValidConnection={isValidConnection}
        onNodeDragStart={checkpoint}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Meta", "Control"]}
        defaultEdgeOptions={{ type: "smoothstep" }}
        minZoom={0.05}
        maxZoom={2}
        onlyRenderVisibleElements
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
        proOptions={{ hideAttribution: true }}
        aria-label="Workflow canvas"
      >
        <Background variant={BackgroundVariant.Dots} gap={18} size={1} color="#cbd5e1" />
        <MiniMap
          pannable
          zoomable
          ariaLabel="Minimap"
          nodeStrokeWidth={3}
          nodeColor={(n: Node) => STATUS_COLOURS[runStatus?.[n.id] ?? ""] ?? ((n.data as WorkflowNodeData).kind === "trigger" ? "#4f46e5" : "#94a3b8")}
        />
        <Controls showInteractive={false} />
      </ReactFlow>
      {hint && (
        <div className="canvas-hint" role="alert" data-testid="connection-hint">
          {hint}
        </div>
      )}
    </div>
  );
}
