// Node types and every catalog function grouped by plugin, with search; drag or click to add.
import { useMemo, useState, type DragEvent } from "react";
import type { CatalogFunction } from "../api/types";
import type { NodeKind } from "../definition/nodeData";
import { NodeIcon } from "./nodes/NodeIcon";
import { NODE_SPECS, PALETTE_ORDER } from "./nodes/specs";
import { groupByPlugin } from "./panels/FunctionPicker";
import { useEditor } from "./store/context";

export const DND_TYPE = "application/x-wfb-node";

export interface PaletteItem {
  kind: NodeKind;
  actionId?: string;
  label?: string;
}

export function Palette({ onAdd }: { onAdd: (item: PaletteItem) => void }) {
  const catalog = useEditor((s) => s.catalog);
  const loaded = useEditor((s) => s.catalogLoaded);
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const kinds = PALETTE_ORDER.filter((k) => !q || `${NODE_SPECS[k].title} ${NODE_SPECS[k].description}`.toLowerCase().includes(q));
  const groups = useMemo(() => {
    const match = (f: CatalogFunction) =>
      !q || `${f.slug} ${f.name} ${f.description ?? ""} ${f.category ?? ""}`.toLowerCase().includes(q);
    return groupByPlugin([...catalog.values()].filter((f) => match(f) && f.isEnabled !== false));
  }, [catalog, q]);

  const dragStart = (item: PaletteItem) => (e: DragEvent) => {
    e.dataTransfer.setData(DND_TYPE, JSON.stringify(item));
    e.dataTransfer.effectAllowed = "move";
  };

  const entry = (item: PaletteItem, title: string, sub: string, icon: NodeKind | "function", testId: string) => (
    <li key={testId}>
      <button
        type="button"
        className="palette-item"
        draggable
        onDragStart={dragStart(item)}
        onClick={() => onAdd(item)}
        data-testid={testId}
        title={`${sub} — drag onto the canvas or press Enter to add`}
      >
        <span className="palette-icon" aria-hidden="true">
          <NodeIcon kind={icon} />
        </span>
        <span className="palette-text">
          <span className="palette-title">{title}</span>
          <span className="palette-sub">{sub}</span>
        </span>
      </button>
    </li>
  );

  return (
    <aside className="palette" aria-label="Palette">
      <div className="palette-search">
        <label htmlFor="palette-search" className="sr-only">
          Search steps and functions
        </label>
        <input id="palette-search" type="search" placeholder="Search steps and functions" value={query} onChange={(e) => setQuery(e.target.value)} />
      </div>
      <div className="palette-scroll">
        {kinds.length > 0 && (
          <section>
            <h3 className="palette-group">Steps</h3>
            <ul>{kinds.map((k) => entry({ kind: k }, NODE_SPECS[k].title, NODE_SPECS[k].description, k, `palette-kind-${k}`))}</ul>
          </section>
        )}
        {!loaded && <p className="muted small pad">Loading functions…</p>}
        {groups.map(([plugin, fns]) => (
          <details key={plugin} open={Boolean(q) || plugin === "system"}>
            <summary className="palette-group">
              {plugin} <span className="muted">({fns.length})</span>
            </summary>
            <ul>
              {fns.map((f) =>
                entry({ kind: "action", actionId: f.slug, label: f.name }, f.name, f.slug, "function", `palette-fn-${f.slug}`),
              )}
            </ul>
          </details>
        ))}
        {loaded && q && !kinds.length && !groups.length && <p className="muted small pad">Nothing matches “{query}”.</p>}
      </div>
    </aside>
  );
}
