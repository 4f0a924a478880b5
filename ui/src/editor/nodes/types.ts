// What a node type contributes: defaults, instant validation, a summary line.
import type { CatalogFunction } from "../../api/types";
import type { DataOf, NodeKind } from "../../definition/nodeData";

export interface IssueDraft {
  message: string;
  field?: string;
  severity?: "error" | "warning";
  code?: string;
}

export interface ValidationContext {
  catalog: Map<string, CatalogFunction>;
  /** Whether the catalog has been loaded (unknown functions are only flagged then). */
  catalogLoaded: boolean;
}

export interface NodeSpec<K extends NodeKind = NodeKind> {
  kind: K;
  title: string;
  description: string;
  defaultLabel: string;
  /** A short glyph shown on the node and in the palette. */
  icon: string;
  defaults(): DataOf<K>["config"];
  validate(data: DataOf<K>, ctx: ValidationContext): IssueDraft[];
  summary(data: DataOf<K>, ctx: ValidationContext): string;
}

export function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === "string" && value.trim() === "");
}
