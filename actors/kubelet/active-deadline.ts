/**
 * `spec.activeDeadlineSeconds` (the kubelet's `activeDeadlineHandler`): a pod active on its node
 * longer than this, counted from its `status.startTime`, is failed — its containers stopped, its
 * phase `Failed` with reason `DeadlineExceeded` — and stays so (it is not restarted). Jobs use
 * it to bound a pod's run.
 *
 * The timer is a callback actor the pod statechart invokes for its whole life: it sends
 * `pod.deadlineExceeded` once the deadline passes (at once for a pod already past it, as after a
 * kubelet restart). Time is the injected clock's wall time, as `startTime` is.
 */
import { fromCallback } from "xstate";
import { asObject, type JsonObject } from "../api/json.ts";
import type { Clock } from "../system/clock.ts";

export const DEADLINE_EXCEEDED_REASON = "DeadlineExceeded";
export const DEADLINE_EXCEEDED_MESSAGE =
  "Pod was active on the node longer than the specified deadline";

/** The pod's deadline in wall ms since the epoch, or null when it has none. */
export function activeDeadlineMs(pod: JsonObject, activeSinceMs: number): number | null {
  const seconds = asObject(pod.spec).activeDeadlineSeconds;
  if (typeof seconds !== "number" || !(seconds > 0)) return null;
  return activeSinceMs + seconds * 1000;
}

export interface ActiveDeadlineInput {
  pod: JsonObject;
  clock: Clock;
  /** When the pod became active here (its reported startTime, else when the kubelet took it). */
  activeSinceMs: number;
}

export const activeDeadlineTimer = fromCallback<{ type: "noop" }, ActiveDeadlineInput>(
  ({ input, sendBack }) => {
    const deadline = activeDeadlineMs(input.pod, input.activeSinceMs);
    if (deadline === null) return undefined;
    const timer = input.clock.setTimeout(
      () => sendBack({ type: "pod.deadlineExceeded" }),
      Math.max(0, deadline - input.clock.wallMs()),
    );
    return () => input.clock.clearTimeout(timer);
  },
);
