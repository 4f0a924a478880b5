import type { PublishEventConfig } from "../../../definition/nodeData";

export const publishEventDefaults = (): PublishEventConfig => ({ topic: "", pubsubName: "pubsub", data: {} });
