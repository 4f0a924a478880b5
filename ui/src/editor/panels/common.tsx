// Shared pieces of the hand-made panels.
import { useEffect, useState } from "react";
import type { DataOf, NodeKind } from "../../definition/nodeData";

export interface PanelProps<K extends NodeKind> {
  id: string;
  data: DataOf<K>;
  update: (config: DataOf<K>["config"]) => void;
}

/** Sets or removes a config key (empty values are removed, keeping the JSON minimal). */
export function withKey<C extends Record<string, unknown>>(config: C, key: string, value: unknown): C {
  const next = { ...config } as Record<string, unknown>;
  if (value === undefined || value === "" || (typeof value === "number" && Number.isNaN(value))) delete next[key];
  else next[key] = value;
  return next as C;
}

export function numberOrUndefined(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

/** A JSON textarea: keeps the user's text while it does not parse, reports the parse error. */
export function JsonField({
  id,
  value,
  onChange,
  rows = 6,
}: {
  id: string;
  value: unknown;
  onChange: (value: unknown) => void;
  rows?: number;
}) {
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    try {
      if (JSON.stringify(JSON.parse(text || "null")) !== JSON.stringify(value ?? null))
        setText(value === undefined ? "" : JSON.stringify(value, null, 2));
    } catch {
      /* keep the user's unparsable text */
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);
  return (
    <>
      <textarea
        id={id}
        className="mono"
        rows={rows}
        value={text}
        spellCheck={false}
        aria-invalid={Boolean(error)}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === "") {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setError(null);
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      />
      {error && (
        <div className="field-error" role="alert">
          Invalid JSON: {error}
        </div>
      )}
    </>
  );
}
