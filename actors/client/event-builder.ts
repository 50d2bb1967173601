/**
 * The one place a core/v1 Event is built (client-go's `makeEvent`): named `<object>.<unique
 * hex>` in the object's namespace (`default` for cluster-scoped objects such as Nodes, as
 * client-go does), `involvedObject` pointing at the object (and at one of its parts through
 * `fieldPath`, e.g. `spec.containers{web}`), reported by a component on a host. What `kubectl
 * describe` and `kubectl get events` show. Pure.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";

export type EventType = "Normal" | "Warning";

export interface EventInput {
  type: EventType;
  reason: string;
  message: string;
  /** The reporting component, e.g. `kubelet`, `replicaset-controller`. */
  component: string;
  /** The node the component runs on (client-go's EventSource.Host), if it is node-bound. */
  host?: string;
  /** The part of the object the event is about, e.g. `spec.containers{web}`. */
  fieldPath?: string;
  nowIso: string;
  /** Makes the event's name unique (client-go: the time in hex). */
  uniqueSuffix: string;
}

/** Events for cluster-scoped objects live here (client-go: metav1.NamespaceDefault). */
export const CLUSTER_SCOPED_EVENT_NAMESPACE = "default";

export function buildEvent(object: JsonObject, input: EventInput): JsonObject {
  const meta = asObject(object.metadata);
  const name = asString(meta.name);
  const objectNamespace = asString(meta.namespace);
  const namespace = objectNamespace || CLUSTER_SCOPED_EVENT_NAMESPACE;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${name}.${input.uniqueSuffix}`, namespace },
    involvedObject: {
      apiVersion: asString(object.apiVersion) || "v1",
      kind: asString(object.kind),
      ...(objectNamespace ? { namespace: objectNamespace } : {}),
      name,
      uid: asString(meta.uid),
      resourceVersion: asString(meta.resourceVersion),
      ...(input.fieldPath ? { fieldPath: input.fieldPath } : {}),
    },
    reason: input.reason,
    message: input.message,
    type: input.type,
    source: { component: input.component, ...(input.host ? { host: input.host } : {}) },
    reportingComponent: input.component,
    reportingInstance: input.host ? `${input.component}-${input.host}` : input.component,
    firstTimestamp: input.nowIso,
    lastTimestamp: input.nowIso,
    count: 1,
  };
}
