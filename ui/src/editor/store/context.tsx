// Binds one editor store to a subtree: <EditorStoreProvider> + useEditor(selector).
import { createContext, useContext, useState, type ReactNode } from "react";
import { useStore } from "zustand";
import type { WorkflowDefinition } from "../../definition/types";
import { createEditorStore, type EditorState, type EditorStore } from "./editorStore";

const EditorStoreContext = createContext<EditorStore | null>(null);

export function EditorStoreProvider({ initial, children }: { initial?: WorkflowDefinition; children: ReactNode }) {
  const [store] = useState(() => createEditorStore(initial));
  return <EditorStoreContext.Provider value={store}>{children}</EditorStoreContext.Provider>;
}

export function useEditorStoreApi(): EditorStore {
  const store = useContext(EditorStoreContext);
  if (!store) throw new Error("useEditor must be used inside <EditorStoreProvider>");
  return store;
}

export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(useEditorStoreApi(), selector);
}
