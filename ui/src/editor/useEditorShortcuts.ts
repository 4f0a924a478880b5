// Keyboard shortcuts of the editor; ignored while typing in a field.
import { useEffect } from "react";
import { useApp } from "../app/appStore";
import { useEditorStoreApi } from "./store/context";

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return Boolean(el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)));
}

export function useEditorShortcuts(actions: { save: () => void; layout: () => void; help: () => void }): void {
  const store = useEditorStoreApi();
  const toast = useApp((s) => s.toast);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (document.querySelector(".modal")) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        actions.save();
        return;
      }
      if (typing(e.target)) return;
      const s = store.getState();
      if (mod && key === "z" && !e.shiftKey) s.undo();
      else if (mod && ((key === "z" && e.shiftKey) || key === "y")) s.redo();
      else if (mod && key === "c") {
        const n = s.copy();
        if (n) toast("info", `Copied ${n} node${n > 1 ? "s" : ""}`);
      } else if (mod && key === "v") s.paste();
      else if (mod && key === "a") s.selectAll();
      else if (key === "delete" || key === "backspace") s.deleteSelection();
      else if (!mod && key === "l") actions.layout();
      else if (key === "?") actions.help();
      else return;
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [store, toast, actions]);
}
