import type { NodeSpec } from "../types";
import { publishEventDefaults } from "./defaults";
import { validatePublishEvent } from "./validate";

export const publishEventSpec: NodeSpec<"publish-event"> = {
  kind: "publish-event",
  title: "Publish event",
  description: "Publishes data to a pub/sub topic",
  defaultLabel: "Publish",
  icon: "📣",
  defaults: publishEventDefaults,
  validate: validatePublishEvent,
  summary: (d) => (d.config.topic ? `→ ${d.config.topic}` : "no topic"),
};
