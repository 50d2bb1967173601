/**
 * What the scheduler writes back after an attempt, as kube-scheduler does: the pod's
 * `PodScheduled` condition (a strategic merge patch of `pods/status`, merged by condition type)
 * and an Event on the pod (through the event recorder): `Scheduled` (Normal, "Successfully
 * assigned ns/pod to node") or `FailedScheduling` (Warning, the FitError message); `Preempted`
 * on a preemption's victims. Pure builders; the actor sends them.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";

export function podScheduledConditionPatch(
  scheduled: boolean,
  message: string,
  nowIso: string,
): JsonObject {
  const condition: JsonObject = {
    type: "PodScheduled",
    status: scheduled ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: nowIso,
  };
  if (!scheduled) {
    condition.reason = "Unschedulable";
    condition.message = message;
  }
  return { status: { conditions: [condition] } };
}

export function scheduledMessage(pod: JsonObject, nodeName: string): string {
  const meta = asObject(pod.metadata);
  return `Successfully assigned ${asString(meta.namespace) || "default"}/${asString(meta.name)} to ${nodeName}`;
}

/** kube's message on a preemption victim's `Preempted` event. */
export function preemptedMessage(preemptor: JsonObject, nodeName: string): string {
  return `Preempted by pod ${asString(asObject(preemptor.metadata).uid)} on node ${nodeName}`;
}
