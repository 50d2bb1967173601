/**
 * A core/v1 Event about an API object, as client-go's event recorder writes one: named
 * `<object>.<unique hex>` in the object's namespace, `involvedObject` pointing at it, reported by
 * a component. What `kubectl describe` and `kubectl get events` show. Pure.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";

export interface EventInput {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** The reporting controller, e.g. `service-ip-allocation`. */
  component: string;
  nowIso: string;
  /** Makes the event's name unique (client-go: the time in hex). */
  uniqueSuffix: string;
}

export function objectEvent(object: JsonObject, input: EventInput): JsonObject {
  const meta = asObject(object.metadata);
  const name = asString(meta.name);
  const namespace = asString(meta.namespace) || "default";
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${name}.${input.uniqueSuffix}`, namespace },
    involvedObject: {
      apiVersion: asString(object.apiVersion) || "v1",
      kind: asString(object.kind),
      namespace,
      name,
      uid: asString(meta.uid),
      resourceVersion: asString(meta.resourceVersion),
    },
    reason: input.reason,
    message: input.message,
    type: input.type,
    source: { component: input.component },
    reportingComponent: input.component,
    reportingInstance: input.component,
    firstTimestamp: input.nowIso,
    lastTimestamp: input.nowIso,
    count: 1,
  };
}
