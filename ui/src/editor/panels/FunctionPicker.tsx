// Choose a function from the catalog, grouped by plugin.
import { useMemo } from "react";
import type { CatalogFunction } from "../../api/types";

export function groupByPlugin(functions: Iterable<CatalogFunction>): [string, CatalogFunction[]][] {
  const groups = new Map<string, CatalogFunction[]>();
  for (const f of functions) {
    const key = f.pluginId || f.slug.split("/")[0];
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "system" ? -1 : b === "system" ? 1 : a.localeCompare(b)))
    .map(([k, v]) => [k, v.sort((x, y) => x.name.localeCompare(y.name))]);
}

export function FunctionPicker({
  id,
  value,
  catalog,
  onChange,
}: {
  id: string;
  value: string | undefined;
  catalog: Map<string, CatalogFunction>;
  onChange: (slug: string) => void;
}) {
  const groups = useMemo(() => groupByPlugin(catalog.values()), [catalog]);
  const known = value ? catalog.has(value) : true;
  return (
    <select id={id} value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
      <option value="">Choose a function…</option>
      {!known && <option value={value}>{value} (not in the registry)</option>}
      {groups.map(([plugin, fns]) => (
        <optgroup key={plugin} label={plugin}>
          {fns.map((f) => (
            <option key={f.slug} value={f.slug}>
              {f.name} — {f.slug}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  );
}
