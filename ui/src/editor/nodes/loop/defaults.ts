import type { LoopConfig } from "../../../definition/nodeData";

export const loopDefaults = (): LoopConfig => ({ items: "", concurrency: 4, actionId: "" });
