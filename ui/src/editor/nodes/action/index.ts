import type { NodeSpec } from "../types";
import { actionDefaults } from "./defaults";
import { validateAction } from "./validate";

export const actionSpec: NodeSpec<"action"> = {
  kind: "action",
  title: "Action",
  description: "Calls a function from the registry",
  defaultLabel: "Action",
  icon: "⚡",
  defaults: actionDefaults,
  validate: validateAction,
  summary: (d, ctx) => {
    const slug = d.config.actionId;
    if (!slug) return "no function chosen";
    return ctx.catalog.get(slug)?.name ? `${ctx.catalog.get(slug)!.name} · ${slug}` : slug;
  },
};
