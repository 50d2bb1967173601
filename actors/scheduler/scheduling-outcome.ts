/**
 * What the scheduler writes back after an attempt, as kube-scheduler does: the pod's
 * `PodScheduled` condition (a strategic merge patch of `pods/status`, merged by condition type)
 * and an Event on the pod: `Scheduled` (Normal, "Successfully assigned ns/pod to node") or
 * `FailedScheduling` (Warning, the FitError message); `Preempted` on a preemption's victims.
 * Pure builders; the actor sends them.
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

/** A core/v1 Event about `pod`, reported by `schedulerName`. */
export function podEvent(
  pod: JsonObject,
  schedulerName: string,
  type: "Normal" | "Warning",
  reason: "Scheduled" | "FailedScheduling" | "Preempted",
  message: string,
  nowIso: string,
  uniqueSuffix: string,
): JsonObject {
  const meta = asObject(pod.metadata);
  const name = asString(meta.name);
  const namespace = asString(meta.namespace) || "default";
  return {
    apiVersion: "v1",
    kind: "Event",
    // client-go's recorder names events `<object>.<unique hex>`
    metadata: { name: `${name}.${uniqueSuffix}`, namespace },
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      namespace,
      name,
      uid: asString(meta.uid),
      resourceVersion: asString(meta.resourceVersion),
    },
    reason,
    message,
    type,
    source: { component: schedulerName },
    reportingComponent: schedulerName,
    reportingInstance: schedulerName,
    firstTimestamp: nowIso,
    lastTimestamp: nowIso,
    count: 1,
  };
}

/** kube's message on a preemption victim's `Preempted` event. */
export function preemptedMessage(preemptor: JsonObject, nodeName: string): string {
  return `Preempted by pod ${asString(asObject(preemptor.metadata).uid)} on node ${nodeName}`;
}
