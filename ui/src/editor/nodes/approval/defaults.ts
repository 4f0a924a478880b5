import type { ApprovalConfig } from "../../../definition/nodeData";

export const approvalDefaults = (): ApprovalConfig => ({ timeoutHours: 24, message: "" });
