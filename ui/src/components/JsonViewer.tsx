// A collapsible, keyboard-accessible JSON tree with a copy button.
import { useState } from "react";

function Value({ name, value, depth }: { name?: string; value: unknown; depth: number }) {
  const [open, setOpen] = useState(depth < 2);
  const label = name !== undefined ? <span className="json-key">{name}: </span> : null;
  if (value === null || typeof value !== "object") {
    const cls = value === null ? "null" : typeof value;
    return (
      <div className="json-row">
        {label}
        <span className={`json-${cls}`}>{JSON.stringify(value)}</span>
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  const [openB, closeB] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return (
    <div className="json-row">
      <button type="button" className="json-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? "▾" : "▸"}
      </button>
      {label}
      {openB}
      {!open && <span className="json-summary"> {entries.length} {Array.isArray(value) ? "items" : "keys"} </span>}
      {open && (
        <div className="json-children">
          {entries.map(([k, v]) => (
            <Value key={k} name={Array.isArray(value) ? undefined : k} value={v} depth={depth + 1} />
          ))}
        </div>
      )}
      {closeB}
    </div>
  );
}

export function JsonViewer({ value, label }: { value: unknown; label?: string }) {
  const [copied, setCopied] = useState(false);
  if (value === undefined) return <div className="muted">—</div>;
  return (
    <div className="json-viewer" aria-label={label}>
      <button
        type="button"
        className="btn btn-ghost btn-xs json-copy"
        onClick={() => {
          void navigator.clipboard?.writeText(JSON.stringify(value, null, 2));
          setCopied(true);
          setTimeout(() => setCopied(false), 1200);
        }}
      >
        {copied ? "Copied" : "Copy"}
      </button>
      <Value value={value} depth={0} />
    </div>
  );
}
