/**
 * Which pods back a Service, as the Endpoints and EndpointSlice controllers both read it: the
 * Service's selector (a label set, matched both ways: pod → Services on a pod change), which pods
 * may be endpoints at all (`endpointslice/util.ShouldPodBeInEndpoints`), and which port a
 * Service port reaches on a given pod (`podutil.FindPort`: a number as is, a name through the
 * pod's container ports). Pure: no I/O.
 */

import { asArray, asObject, asString, isJsonObject, type JsonObject } from "../api/json.ts";
import { type Labels, matches, selectorFromSet } from "../api/label-selector.ts";
import { CLUSTER_IP_NONE } from "../api/service-allocation.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { CacheReader } from "../client/shared-informers.ts";
import { isBeingDeleted, nameOf, namespaceOf, uidOf } from "./owner-references.ts";

export const SERVICES = "services";
export const PODS = "pods";

export { CLUSTER_IP_NONE };
/** Kubernetes' `v1.IsHeadlessService` label, on the Endpoints and EndpointSlices of one. */
export const HEADLESS_SERVICE_LABEL = "service.kubernetes.io/headless";

function labelsOf(o: JsonObject): Labels {
  return asObject(asObject(o.metadata).labels) as Record<string, string>;
}

/**
 * The Service's selector as a label set, or null when it has none: then its endpoints are the
 * user's business. An empty selector counts as none (Kubernetes stores it as nil, and a
 * selector selecting every pod of the namespace is never what was meant).
 */
export function serviceSelector(svc: JsonObject): Labels | null {
  const selector = asObject(svc.spec).selector;
  if (!isJsonObject(selector) || Object.keys(selector).length === 0) return null;
  return selector as Record<string, string>;
}

export function isHeadless(svc: JsonObject): boolean {
  return asObject(svc.spec).clusterIP === CLUSTER_IP_NONE;
}

export function selectsPod(selector: Labels, pod: JsonObject): boolean {
  return matches(selectorFromSet(selector), labelsOf(pod));
}

/** The pods of `pods` that the Service selects (none without a selector). */
export function podsOfService(svc: JsonObject, pods: readonly JsonObject[]): JsonObject[] {
  const selector = serviceSelector(svc);
  if (!selector) return [];
  const ns = namespaceOf(svc);
  return pods.filter((p) => namespaceOf(p) === ns && selectsPod(selector, p));
}

/**
 * The Services a pod change concerns: those of its namespace whose selector matches its labels
 * now or before the change (a pod relabelled out of a Service must leave its endpoints).
 */
export function servicesOfPodChange(
  cache: CacheReader,
  pod: JsonObject,
  previous?: JsonObject,
): ObjectKey[] {
  const ns = namespaceOf(pod);
  const keys: ObjectKey[] = [];
  for (const svc of cache.list(SERVICES, ns)) {
    const selector = serviceSelector(svc);
    if (!selector) continue;
    if (selectsPod(selector, pod) || (previous !== undefined && selectsPod(selector, previous)))
      keys.push({ namespace: ns, name: nameOf(svc) });
  }
  return keys;
}

export function podIP(pod: JsonObject): string {
  return asString(asObject(pod.status).podIP);
}

/**
 * `ShouldPodBeInEndpoints`: finished pods (Succeeded/Failed) and pods without an IP never are;
 * terminating pods (a deletionTimestamp) only when `includeTerminating`.
 */
export function isEndpointCandidate(pod: JsonObject, includeTerminating: boolean): boolean {
  const phase = asObject(pod.status).phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  if (podIP(pod) === "") return false;
  return includeTerminating || !isBeingDeleted(pod);
}

/** `{kind: Pod, namespace, name, uid}`: what an endpoint points back to. */
export function podReference(pod: JsonObject): JsonObject {
  return { kind: "Pod", namespace: namespaceOf(pod), name: nameOf(pod), uid: uidOf(pod) };
}

/**
 * The endpoint hostname of a pod behind a Service: its `spec.hostname` when its `spec.subdomain`
 * names this Service (how headless Services give pods DNS names), else none.
 */
export function endpointHostname(svc: JsonObject, pod: JsonObject): string {
  const spec = asObject(pod.spec);
  const hostname = asString(spec.hostname);
  if (hostname === "" || asString(spec.subdomain) !== nameOf(svc)) return "";
  return namespaceOf(pod) === namespaceOf(svc) ? hostname : "";
}

/** One port of a Service as an endpoint offers it: the Service port's name, the pod's port. */
export interface EndpointPort {
  /** The Service port's name ("" when the Service has a single unnamed port). */
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export function servicePorts(svc: JsonObject): JsonObject[] {
  return asArray(asObject(svc.spec).ports).filter(isJsonObject);
}

/**
 * `podutil.FindPort`: the port `servicePort.targetPort` reaches on `pod`. A number is taken as
 * is; a name is looked up among the pods' container ports of the same protocol (null if none
 * has it: that pod offers no endpoint for this port). No targetPort means the port itself.
 */
export function resolveTargetPort(pod: JsonObject, servicePort: JsonObject): number | null {
  const target = servicePort.targetPort;
  const protocol = asString(servicePort.protocol) || "TCP";
  if (typeof target === "number" && target > 0) return target;
  if (typeof target === "string" && target !== "") {
    for (const c of asArray(asObject(pod.spec).containers).map(asObject))
      for (const p of asArray(c.ports).map(asObject))
        if (p.name === target && (asString(p.protocol) || "TCP") === protocol) {
          const port = p.containerPort;
          return typeof port === "number" ? port : null;
        }
    return null;
  }
  const port = servicePort.port;
  return typeof port === "number" ? port : null;
}

/** The ports `pod` offers for the Service, in the Service's port order. */
export function endpointPortsOf(svc: JsonObject, pod: JsonObject): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of servicePorts(svc)) {
    const port = resolveTargetPort(pod, sp);
    if (port === null) continue;
    const ep: EndpointPort = {
      name: asString(sp.name),
      port,
      protocol: asString(sp.protocol) || "TCP",
    };
    if (typeof sp.appProtocol === "string") ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

/** Service labels copied onto its endpoint objects, with the headless marker set or cleared. */
export function endpointObjectLabels(svc: JsonObject, reserved: readonly string[] = []): Labels {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelsOf(svc)))
    if (k !== HEADLESS_SERVICE_LABEL && !reserved.includes(k)) labels[k] = v;
  if (isHeadless(svc)) labels[HEADLESS_SERVICE_LABEL] = "";
  return labels;
}
