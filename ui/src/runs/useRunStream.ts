// Live run updates: Server-Sent Events (resumed by the browser with Last-Event-ID) plus a
// status poll as ground truth, both stopping once the run has finished.
import { useEffect, useRef } from "react";
import { runApi } from "../api/endpoints";
import type { RunEvent, RunStatus } from "../api/types";

export const EVENT_TYPES = [
  "run.started",
  "node.started",
  "node.completed",
  "node.failed",
  "node.skipped",
  "node.retrying",
  "approval.requested",
  "approval.answered",
  "approval.timed_out",
  "node.compensated",
  "run.completed",
  "run.failed",
  "run.terminated",
  "run.suspended",
  "run.resumed",
  "status",
];

const FINISHED = new Set(["COMPLETED", "FAILED", "TERMINATED"]);

export function useRunStream(
  instanceId: string | null,
  handlers: { onEvent?: (e: RunEvent) => void; onStatus?: (s: RunStatus) => void; onError?: (err: unknown) => void },
  pollMs = 2000,
): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    if (!instanceId) return;
    let stopped = false;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const stop = () => {
      stopped = true;
      source?.close();
      if (timer) clearTimeout(timer);
    };
    const poll = async () => {
      try {
        const status = await runApi.status(instanceId);
        if (stopped) return;
        ref.current.onStatus?.(status);
        if (FINISHED.has(status.runtimeStatus)) {
          stop();
          return;
        }
      } catch (err) {
        ref.current.onError?.(err);
      }
      if (!stopped) timer = setTimeout(poll, pollMs);
    };
    if (typeof EventSource !== "undefined") {
      source = new EventSource(runApi.eventsUrl(instanceId));
      const listener = (msg: MessageEvent) => {
        try {
          const event = JSON.parse(msg.data) as RunEvent;
          ref.current.onEvent?.(event);
          if (["run.completed", "run.failed", "run.terminated"].includes(event.type)) {
            source?.close();
            void poll();
          }
        } catch {
          /* a malformed event is skipped; the status poll still reports truth */
        }
      };
      for (const type of EVENT_TYPES) source.addEventListener(type, listener as EventListener);
      source.onmessage = listener;
    }
    void poll();
    return stop;
  }, [instanceId, pollMs]);
}
