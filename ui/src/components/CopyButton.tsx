// A button that copies a text (a secret, a link, a command) and says so.
import { useState } from "react";
import { useApp } from "../app/appStore";

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const toast = useApp((s) => s.toast);
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-sm"
      aria-label={label}
      onClick={() => {
        navigator.clipboard
          .writeText(text)
          .then(() => {
            setDone(true);
            setTimeout(() => setDone(false), 1500);
          })
          .catch(() => toast("error", "The browser refused the clipboard: select the text and copy it"));
      }}
    >
      {done ? "Copied" : label}
    </button>
  );
}
