// A text input (or textarea) that offers upstream output fields when the user types `{{`.
import { createContext, useContext, useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import {
  applySuggestion,
  findOpenTemplate,
  templateSuggestions,
  type OpenTemplate,
  type TemplateSource,
} from "../templates/templates";

export const TemplateSourcesContext = createContext<TemplateSource[]>([]);

export interface TemplateInputProps {
  id?: string;
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  required?: boolean;
  disabled?: boolean;
  "aria-label"?: string;
  "aria-describedby"?: string;
  "aria-invalid"?: boolean;
  className?: string;
}

export function TemplateInput(props: TemplateInputProps) {
  const sources = useContext(TemplateSourcesContext);
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [open, setOpen] = useState<OpenTemplate | null>(null);
  const [active, setActive] = useState(0);
  const listId = useId();
  const suggestions = useMemo(() => (open ? templateSuggestions(open.query, sources, 30) : []), [open, sources]);

  const refresh = (value: string, caret: number | null) => {
    const next = caret === null ? null : findOpenTemplate(value, caret);
    setOpen(next);
    setActive(0);
  };

  const choose = (index: number) => {
    const el = ref.current;
    if (!el || !open || !suggestions[index]) return;
    const caret = el.selectionStart ?? props.value.length;
    const result = applySuggestion(props.value, caret, open, suggestions[index]);
    props.onChange(result.text);
    setOpen(null);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(result.caret, result.caret);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (!open || !suggestions.length) return;
    if (e.key === "ArrowDown") {
      setActive((a) => (a + 1) % suggestions.length);
      e.preventDefault();
    } else if (e.key === "ArrowUp") {
      setActive((a) => (a - 1 + suggestions.length) % suggestions.length);
      e.preventDefault();
    } else if (e.key === "Enter" || e.key === "Tab") {
      choose(active);
      e.preventDefault();
    } else if (e.key === "Escape") {
      setOpen(null);
      e.preventDefault();
      e.stopPropagation();
    }
  };

  const common = {
    id: props.id,
    ref,
    value: props.value ?? "",
    placeholder: props.placeholder,
    required: props.required,
    disabled: props.disabled,
    className: props.className,
    "aria-label": props["aria-label"],
    "aria-describedby": props["aria-describedby"],
    "aria-invalid": props["aria-invalid"],
    role: "combobox",
    "aria-autocomplete": "list" as const,
    "aria-expanded": Boolean(open && suggestions.length),
    "aria-controls": listId,
    "aria-activedescendant": open && suggestions.length ? `${listId}-${active}` : undefined,
    autoComplete: "off",
    spellCheck: false,
    onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
      props.onChange(e.target.value);
      refresh(e.target.value, e.target.selectionStart);
    },
    onKeyDown,
    onKeyUp: (e: KeyboardEvent<HTMLInputElement | HTMLTextAreaElement>) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) refresh(e.currentTarget.value, e.currentTarget.selectionStart);
    },
    onClick: (e: React.MouseEvent<HTMLInputElement | HTMLTextAreaElement>) => refresh(e.currentTarget.value, e.currentTarget.selectionStart),
    onBlur: () => {
      setTimeout(() => setOpen(null), 150);
      props.onBlur?.();
    },
  };

  return (
    <div className="template-input">
      {props.multiline ? <textarea rows={props.rows ?? 3} {...common} /> : <input type="text" {...common} />}
      {open && suggestions.length > 0 && (
        <ul className="suggestions" role="listbox" id={listId} aria-label="Template suggestions">
          {suggestions.map((s, i) => (
            <li
              key={s.path}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : ""}
              onMouseDown={(e) => {
                e.preventDefault();
                choose(i);
              }}
            >
              <code>{s.path}</code>
              <span className="muted small">{s.detail}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
