import type { PublishEventData } from "../../../definition/nodeData";
import { isBlank, type IssueDraft } from "../types";

export function validatePublishEvent(data: PublishEventData): IssueDraft[] {
  const issues: IssueDraft[] = [];
  if (isBlank(data.config.topic)) issues.push({ field: "config.topic", message: "choose the topic to publish to" });
  if (data.config.pubsubName !== undefined && isBlank(data.config.pubsubName))
    issues.push({ field: "config.pubsubName", message: "the pub/sub component name cannot be empty" });
  return issues;
}
