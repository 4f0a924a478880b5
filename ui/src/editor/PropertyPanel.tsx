// The selected node's properties: common fields, its issues, and its type's panel.
import { useMemo, type ComponentType } from "react";
import type { NodeKind, WorkflowNodeData } from "../definition/nodeData";
import { dedupeIssues } from "./graph/issues";
import { NodeIcon } from "./nodes/NodeIcon";
import { NODE_SPECS } from "./nodes/specs";
import { nodePanels } from "./nodes/registry";
import type { PanelProps } from "./panels/common";
import { TemplateSourcesContext } from "./panels/TemplateInput";
import { useTemplateSources } from "./panels/templateSources";
import { useEditor } from "./store/context";
import { referenceName } from "./templates/templates";

export function PropertyPanel() {
  const selected = useEditor((s) => {
    const chosen = s.nodes.filter((n) => n.selected);
    return chosen.length === 1 ? chosen[0] : null;
  });
  const count = useEditor((s) => s.nodes.filter((n) => n.selected).length);
  const sources = useTemplateSources(selected?.id ?? null);
  const nodes = useEditor((s) => s.nodes);
  const clientIssues = useEditor((s) => s.clientIssues);
  const serverIssues = useEditor((s) => s.serverIssues);
  const issues = useMemo(
    () => (selected ? dedupeIssues(clientIssues, serverIssues, selected.id) : []),
    [clientIssues, serverIssues, selected],
  );
  const updateNode = useEditor((s) => s.updateNode);
  const updateConfig = useEditor((s) => s.updateConfig);

  if (!selected)
    return (
      <aside className="inspector" aria-label="Properties">
        <div className="inspector-empty">
          <h2>{count > 1 ? `${count} nodes selected` : "No node selected"}</h2>
          <p className="muted small">
            Select a node to configure it. Drag steps and functions from the palette, connect handles to define the order.
          </p>
          <p className="muted small">
            <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo · <kbd>Ctrl</kbd>+<kbd>C</kbd>/<kbd>V</kbd> copy/paste · <kbd>Del</kbd> delete · <kbd>Ctrl</kbd>+<kbd>S</kbd> save · <kbd>L</kbd> layout
          </p>
        </div>
      </aside>
    );

  const data = selected.data as WorkflowNodeData;
  const Panel = nodePanels[data.kind] as ComponentType<PanelProps<NodeKind>>;
  const ref = referenceName({ id: selected.id, label: data.label }, nodes.map((n) => ({ id: n.id, label: n.data.label })));
  return (
    <aside className="inspector" aria-label="Properties">
      <header className="inspector-head">
        <span className="wf-node-icon" aria-hidden="true">
          <NodeIcon kind={data.kind} />
        </span>
        <div>
          <div className="eyebrow">{NODE_SPECS[data.kind].title}</div>
          <div className="strong">{data.label || selected.id}</div>
          <div className="muted small mono">
            id {selected.id} · {"{{"}
            {ref}
            {"}}"}
          </div>
        </div>
      </header>
      <div className="inspector-body">
        {issues.length > 0 && (
          <ul className="issue-list" aria-label="Problems of this node">
            {issues.map((i, k) => (
              <li key={k} className={`issue issue-${i.severity}`}>
                {i.field && <code>{i.field}</code>} {i.message}
              </li>
            ))}
          </ul>
        )}
        <div className="field">
          <label htmlFor="node-label">Label</label>
          <input id="node-label" value={data.label} onChange={(e) => updateNode(selected.id, { label: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="node-description">Description</label>
          <input id="node-description" value={data.description ?? ""} onChange={(e) => updateNode(selected.id, { description: e.target.value || undefined })} />
        </div>
        <label className="check">
          <input type="checkbox" checked={data.enabled} onChange={(e) => updateNode(selected.id, { enabled: e.target.checked })} /> Enabled
        </label>
        <hr />
        <TemplateSourcesContext.Provider value={sources}>
          <Panel key={selected.id} id={selected.id} data={data} update={(config) => updateConfig(selected.id, config)} />
        </TemplateSourcesContext.Provider>
      </div>
    </aside>
  );
}
