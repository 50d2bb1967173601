/**
 * The EndpointSlices a Service should have, and the fewest writes that get there from the ones it
 * has (the job of kube-controller-manager's endpointslice `reconciler`). Pure: no I/O.
 *
 * Endpoints are grouped by the ports they offer (a named targetPort may resolve differently per
 * pod), and each group is spread over slices of at most `maxEndpointsPerSlice` endpoints:
 *
 * 1. Existing slices keep the endpoints that are still wanted (refreshed: conditions change) and
 *    drop the others; a slice whose ports are no longer offered by anyone, whose owner is not
 *    this Service (an earlier Service of the same name), or that ends up empty is deleted.
 * 2. New endpoints fill the slices already being updated, then new slices; a last partial batch
 *    goes into an unchanged slice with room rather than into one more new slice.
 * 3. A slice is written only if its content changed, so a pod status heartbeat that changes
 *    nothing an endpoint shows writes nothing.
 */

import { asArray, asObject, asString, type JsonObject, jsonEqual } from "../api/json.ts";
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from "../api/well-known.ts";
import {
  controllerOf,
  isBeingDeleted,
  namespaceOf,
  newControllerRef,
  uidOf,
} from "./owner-references.ts";
import { isPodReady } from "./pod-conditions.ts";
import {
  type EndpointPort,
  endpointHostname,
  endpointObjectLabels,
  endpointPortsOf,
  isEndpointCandidate,
  podIP,
  podReference,
  podsOfService,
} from "./service-pods.ts";

/** Kubernetes' `--max-endpoints-per-slice` default (and the API's own limit is 1000). */
export const MAX_ENDPOINTS_PER_SLICE = 100;
export const MANAGED_BY_ENDPOINTSLICE_CONTROLLER = "endpointslice-controller.k8s.io";
export const ADDRESS_TYPE_IPV4 = "IPv4";

export interface SlicePlan {
  /** New slices (with `generateName`). */
  create: JsonObject[];
  /** Changed slices (carrying the resourceVersion they were read at). */
  update: JsonObject[];
  delete: JsonObject[];
}

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** Whether a slice is one of this controller's for the Service named `serviceName`. */
export function isManagedSliceOf(slice: JsonObject, serviceName: string): boolean {
  const labels = asObject(asObject(slice.metadata).labels);
  return (
    labels[SERVICE_NAME_LABEL] === serviceName &&
    labels[MANAGED_BY_LABEL] === MANAGED_BY_ENDPOINTSLICE_CONTROLLER
  );
}

function slicePort(p: EndpointPort): JsonObject {
  // discovery/v1 port names are pointers that the controller always sets ("" when unnamed)
  const o: JsonObject = { name: p.name, port: p.port, protocol: p.protocol };
  if (p.appProtocol !== undefined) o.appProtocol = p.appProtocol;
  return o;
}

/** `podToEndpoint`: the discovery/v1 endpoint of a pod behind `svc`. */
export function endpointOf(svc: JsonObject, pod: JsonObject): JsonObject {
  const publishNotReady = asObject(svc.spec).publishNotReadyAddresses === true;
  const serving = isPodReady(pod);
  const terminating = isBeingDeleted(pod);
  // for compatibility, "ready" is never true for a terminating pod unless the Service publishes
  // not-ready addresses
  const ready = publishNotReady || (serving && !terminating);
  const endpoint: JsonObject = {
    addresses: [podIP(pod)],
    conditions: { ready, serving, terminating },
  };
  const hostname = endpointHostname(svc, pod);
  if (hostname !== "") endpoint.hostname = hostname;
  const nodeName = asString(asObject(pod.spec).nodeName);
  if (nodeName !== "") endpoint.nodeName = nodeName;
  endpoint.targetRef = podReference(pod);
  return endpoint;
}

function endpointKey(endpoint: JsonObject): string {
  return `${asString(asArray(endpoint.addresses)[0])}|${asString(asObject(endpoint.targetRef).uid)}`;
}

function compareEndpoints(a: JsonObject, b: JsonObject): number {
  return endpointKey(a).localeCompare(endpointKey(b));
}

const portsKey = (ports: readonly JsonObject[]) =>
  JSON.stringify(
    ports
      .map((p) => [asString(p.name), Number(p.port), asString(p.protocol), asString(p.appProtocol)])
      .sort(),
  );

/** The endpoints wanted for `svc`, grouped by their ports (keyed by `portsKey`). */
export function desiredEndpointGroups(
  svc: JsonObject,
  pods: readonly JsonObject[],
): Map<string, { ports: JsonObject[]; endpoints: Map<string, JsonObject> }> {
  const groups = new Map<string, { ports: JsonObject[]; endpoints: Map<string, JsonObject> }>();
  for (const pod of podsOfService(svc, pods)) {
    // terminating pods stay, marked terminating: proxies drain them
    if (!isEndpointCandidate(pod, true) || !IPV4.test(podIP(pod))) continue;
    const ports = endpointPortsOf(svc, pod).map(slicePort);
    const key = portsKey(ports);
    let group = groups.get(key);
    if (!group) {
      group = { ports, endpoints: new Map() };
      groups.set(key, group);
    }
    const endpoint = endpointOf(svc, pod);
    group.endpoints.set(endpointKey(endpoint), endpoint);
  }
  return groups;
}

function sliceLabels(svc: JsonObject): JsonObject {
  return {
    ...endpointObjectLabels(svc, [SERVICE_NAME_LABEL, MANAGED_BY_LABEL]),
    [SERVICE_NAME_LABEL]: asString(asObject(svc.metadata).name),
    [MANAGED_BY_LABEL]: MANAGED_BY_ENDPOINTSLICE_CONTROLLER,
  };
}

/** The fields this controller owns on a slice, for the "did it change" comparison. */
function sliceContent(slice: JsonObject): JsonObject {
  const meta = asObject(slice.metadata);
  return {
    addressType: slice.addressType ?? null,
    endpoints: asArray(slice.endpoints),
    ports: asArray(slice.ports),
    labels: asObject(meta.labels),
    ownerReferences: asArray(meta.ownerReferences),
  };
}

export function planEndpointSlices(
  svc: JsonObject,
  pods: readonly JsonObject[],
  existing: readonly JsonObject[],
  maxEndpointsPerSlice = MAX_ENDPOINTS_PER_SLICE,
): SlicePlan {
  const groups = desiredEndpointGroups(svc, pods);
  const labels = sliceLabels(svc);
  const owner = newControllerRef({ apiVersion: "v1", kind: "Service", ...svc });
  const ownerReferences = [owner as unknown as JsonObject];
  const withContent = (base: JsonObject, ports: JsonObject[], endpoints: JsonObject[]) => ({
    ...base,
    metadata: { ...asObject(base.metadata), labels, ownerReferences },
    addressType: ADDRESS_TYPE_IPV4,
    endpoints: [...endpoints].sort(compareEndpoints),
    ports,
  });

  const plan: SlicePlan = { create: [], update: [], delete: [] };
  /** Kept slices by ports key: their endpoints (by key) and whether they must be written. */
  const kept: {
    slice: JsonObject;
    key: string;
    endpoints: Map<string, JsonObject>;
    changed: boolean;
  }[] = [];
  const placed = new Set<string>();
  const ordered = [...existing].sort((a, b) =>
    asString(asObject(a.metadata).name).localeCompare(asString(asObject(b.metadata).name)),
  );
  for (const slice of ordered) {
    const key = portsKey(asArray(slice.ports).map(asObject));
    const group = groups.get(key);
    const ownedByThisService = controllerOf(slice)?.uid === uidOf(svc);
    if (!group || !ownedByThisService || slice.addressType !== ADDRESS_TYPE_IPV4) {
      plan.delete.push(slice);
      continue;
    }
    const endpoints = new Map<string, JsonObject>();
    for (const e of asArray(slice.endpoints).map(asObject)) {
      const k = endpointKey(e);
      const wanted = group.endpoints.get(k);
      // an endpoint listed twice (in two slices) stays only in the first
      if (wanted && !placed.has(`${key}#${k}`)) {
        endpoints.set(k, wanted);
        placed.add(`${key}#${k}`);
      }
    }
    kept.push({ slice, key, endpoints, changed: false });
  }

  for (const [key, group] of groups) {
    const remaining = [...group.endpoints.entries()]
      .filter(([k]) => !placed.has(`${key}#${k}`))
      .sort(([a], [b]) => a.localeCompare(b));
    const mine = kept.filter((k) => k.key === key);
    const changedOf = (k: (typeof kept)[number]) =>
      !jsonEqual(
        sliceContent(k.slice),
        sliceContent(withContent(k.slice, group.ports, [...k.endpoints.values()])),
      );
    for (const k of mine) k.changed = changedOf(k);
    // 1. fill the slices that are written anyway
    for (const k of mine.filter((m) => m.changed))
      while (remaining.length > 0 && k.endpoints.size < maxEndpointsPerSlice) {
        const [ek, e] = remaining.shift() as [string, JsonObject];
        k.endpoints.set(ek, e);
      }
    // 2. full new slices; a last partial batch into an unchanged slice with room, if one has it
    while (remaining.length > 0) {
      const batch = remaining.splice(0, maxEndpointsPerSlice);
      const roomy = mine.find(
        (m) => !m.changed && m.endpoints.size + batch.length <= maxEndpointsPerSlice,
      );
      if (batch.length < maxEndpointsPerSlice && roomy) {
        for (const [ek, e] of batch) roomy.endpoints.set(ek, e);
        roomy.changed = true;
        continue;
      }
      plan.create.push(
        withContent(
          {
            apiVersion: "discovery.k8s.io/v1",
            kind: "EndpointSlice",
            metadata: {
              generateName: `${asString(asObject(svc.metadata).name)}-`,
              namespace: namespaceOf(svc),
            },
          },
          group.ports,
          batch.map(([, e]) => e),
        ),
      );
    }
  }

  for (const k of kept) {
    if (k.endpoints.size === 0) plan.delete.push(k.slice);
    else if (k.changed)
      plan.update.push(
        withContent(k.slice, groups.get(k.key)?.ports ?? [], [...k.endpoints.values()]),
      );
  }
  return plan;
}
