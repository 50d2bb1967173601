/**
 * The Endpoints controller (kube-controller-manager's `endpoint` controller): for every Service
 * with a selector, a core/v1 Endpoints object of the same namespace/name listing the selected
 * pods' IPs, ready pods under `addresses` and the others under `notReadyAddresses` (all of them
 * under `addresses` when the Service sets `publishNotReadyAddresses`), each with its pod as
 * `targetRef` and its `nodeName`, and the Service's ports with each `targetPort` resolved on the
 * pod (by number or by container port name). Subsets are packed as `endpoints.RepackSubsets`
 * does: the ports that share exactly the same addresses form one subset.
 *
 * - Pods without an IP, finished pods and terminating pods are left out.
 * - A Service without a selector is left alone: its Endpoints are the user's.
 * - Deleting a Service deletes its Endpoints. An Endpoints object without a Service is deleted
 *   only if this controller wrote it (the `last-change-trigger-time` annotation, as Kubernetes'
 *   leftover check does) or we saw its Service go; a user's Endpoints made ahead of its Service
 *   stays.
 * - Writes happen only when the subsets, labels or over-capacity mark differ from what is stored
 *   (no update churn on every pod status heartbeat), with the cached resourceVersion (409 on a
 *   stale cache, then a retry).
 * - Past `MAX_ENDPOINT_ADDRESSES` addresses the object is truncated (ready ones kept first) and
 *   annotated over-capacity, as Kubernetes does; EndpointSlices carry every endpoint.
 */

import { asArray, asObject, asString, type JsonObject, jsonEqual } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isNotFound } from "../client/errors.ts";
import { keyString, type ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import { isBeingDeleted, nameOf, namespaceOf, uidOf } from "./owner-references.ts";
import { isPodReady } from "./pod-conditions.ts";
import { EXPECTATIONS_RECHECK_MS } from "./replicaset.ts";
import {
  type EndpointPort,
  endpointHostname,
  endpointObjectLabels,
  endpointPortsOf,
  isEndpointCandidate,
  isHeadless,
  PODS,
  podIP,
  podReference,
  podsOfService,
  SERVICES,
  servicePorts,
  serviceSelector,
  servicesOfPodChange,
} from "./service-pods.ts";
import { WriteExpectations } from "./write-expectations.ts";

export const ENDPOINTS = "endpoints";

/** Kubernetes' `maxCapacity`: addresses per Endpoints object, at most. */
export const MAX_ENDPOINT_ADDRESSES = 1000;
export const OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity";
export const OVER_CAPACITY_TRUNCATED = "truncated";
/** Set on every write; marks the object as this controller's (`checkLeftoverEndpoints`). */
export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION =
  "endpoints.kubernetes.io/last-change-trigger-time";

interface AddressEntry {
  address: JsonObject;
  ready: boolean;
}

function endpointPortObject(p: EndpointPort): JsonObject {
  const o: JsonObject = { port: p.port, protocol: p.protocol };
  // core/v1 EndpointPort.name is omitempty; the Service's single port may be unnamed
  if (p.name !== "") o.name = p.name;
  if (p.appProtocol !== undefined) o.appProtocol = p.appProtocol;
  return o;
}

function endpointAddress(svc: JsonObject, pod: JsonObject): JsonObject {
  const address: JsonObject = { ip: podIP(pod) };
  const hostname = endpointHostname(svc, pod);
  if (hostname !== "") address.hostname = hostname;
  const nodeName = asString(asObject(pod.spec).nodeName);
  if (nodeName !== "") address.nodeName = nodeName;
  address.targetRef = podReference(pod);
  return address;
}

function compareAddresses(a: JsonObject, b: JsonObject): number {
  return (
    asString(a.ip).localeCompare(asString(b.ip)) ||
    asString(asObject(a.targetRef).uid).localeCompare(asString(asObject(b.targetRef).uid))
  );
}

const canonical = (o: JsonObject) => JSON.stringify(o, Object.keys(o).sort());

/**
 * The subsets the Service's Endpoints should have, given the pods of its namespace: every
 * (address, port) pair, repacked so that ports with the same address set share a subset.
 * Ordered (addresses by IP, ports and subsets by content) so equal inputs give equal output.
 */
export function desiredSubsets(svc: JsonObject, pods: readonly JsonObject[]): JsonObject[] {
  const publishNotReady = asObject(svc.spec).publishNotReadyAddresses === true;
  const noPorts = servicePorts(svc).length === 0;
  /** Port (canonical JSON; "" for the headless no-port sentinel) → addresses by key. */
  const byPort = new Map<
    string,
    { port: JsonObject | null; addresses: Map<string, AddressEntry> }
  >();
  const add = (port: JsonObject | null, entry: AddressEntry) => {
    const key = port === null ? "" : canonical(port);
    let slot = byPort.get(key);
    if (!slot) {
      slot = { port, addresses: new Map() };
      byPort.set(key, slot);
    }
    const targetRef = asObject(entry.address.targetRef);
    slot.addresses.set(`${asString(entry.address.ip)}|${asString(targetRef.uid)}`, entry);
  };
  for (const pod of podsOfService(svc, pods)) {
    if (!isEndpointCandidate(pod, publishNotReady)) continue;
    const entry = { address: endpointAddress(svc, pod), ready: publishNotReady || isPodReady(pod) };
    if (noPorts) {
      // only a headless Service may have no ports: its endpoints are bare addresses
      if (isHeadless(svc)) add(null, entry);
      continue;
    }
    for (const port of endpointPortsOf(svc, pod)) add(endpointPortObject(port), entry);
  }

  /** Address set (keys with readiness) → the ports offered on exactly that set. */
  const bySet = new Map<string, { entries: AddressEntry[]; ports: JsonObject[] }>();
  for (const { port, addresses } of byPort.values()) {
    const setKey = [...addresses.entries()]
      .map(([k, e]) => `${k}|${e.ready ? 1 : 0}`)
      .sort()
      .join(",");
    let group = bySet.get(setKey);
    if (!group) {
      group = { entries: [...addresses.values()], ports: [] };
      bySet.set(setKey, group);
    }
    if (port !== null) group.ports.push(port);
  }

  const subsets: JsonObject[] = [];
  for (const { entries, ports } of bySet.values()) {
    const subset: JsonObject = {};
    const ready = entries.filter((e) => e.ready).map((e) => e.address);
    const notReady = entries.filter((e) => !e.ready).map((e) => e.address);
    if (ready.length > 0) subset.addresses = ready.sort(compareAddresses);
    if (notReady.length > 0) subset.notReadyAddresses = notReady.sort(compareAddresses);
    if (ports.length > 0)
      subset.ports = ports.sort((a, b) => canonical(a).localeCompare(canonical(b)));
    subsets.push(subset);
  }
  return subsets.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/**
 * `truncateEndpoints`: keeps at most `max` addresses, ready ones first, each subset keeping its
 * share (rounded up, within what is left). Returns whether anything was dropped.
 */
export function truncateSubsets(subsets: JsonObject[], max = MAX_ENDPOINT_ADDRESSES): boolean {
  let totalReady = 0;
  let totalNotReady = 0;
  for (const s of subsets) {
    totalReady += asArray(s.addresses).length;
    totalNotReady += asArray(s.notReadyAddresses).length;
  }
  if (totalReady + totalNotReady <= max) return false;
  const truncateReady = totalReady > max;
  const room = truncateReady ? max : max - totalReady;
  const total = truncateReady ? totalReady : totalNotReady;
  let canBeAdded = room;
  for (const s of subsets) {
    const field = truncateReady ? "addresses" : "notReadyAddresses";
    const list = asArray(s[field]);
    const share = Math.min(Math.ceil((list.length / total) * room), canBeAdded);
    canBeAdded -= share;
    // over capacity on ready ones alone: the not-ready ones all go
    if (truncateReady) delete s.notReadyAddresses;
    if (share < list.length) s[field] = list.slice(0, share);
    if (asArray(s[field]).length === 0) delete s[field];
  }
  return true;
}

/** What the controller owns of an Endpoints object: compared before any write. */
type EndpointsContent = {
  subsets: JsonObject[];
  labels: JsonObject;
  overCapacity: boolean;
};

function contentOf(ep: JsonObject): EndpointsContent {
  const meta = asObject(ep.metadata);
  return {
    subsets: asArray(ep.subsets).map(asObject),
    labels: asObject(meta.labels),
    overCapacity: asObject(meta.annotations)[OVER_CAPACITY_ANNOTATION] === OVER_CAPACITY_TRUNCATED,
  };
}

export function desiredContent(svc: JsonObject, pods: readonly JsonObject[]): EndpointsContent {
  const subsets = desiredSubsets(svc, pods);
  const overCapacity = truncateSubsets(subsets);
  return { subsets, labels: { ...endpointObjectLabels(svc) }, overCapacity };
}

function annotationsFor(existing: JsonObject, content: EndpointsContent, nowIso: string) {
  const out: JsonObject = { ...asObject(asObject(existing.metadata).annotations) };
  out[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = nowIso;
  if (content.overCapacity) out[OVER_CAPACITY_ANNOTATION] = OVER_CAPACITY_TRUNCATED;
  else delete out[OVER_CAPACITY_ANNOTATION];
  return out;
}

export function isManagedEndpoints(ep: JsonObject): boolean {
  return (
    asObject(asObject(ep.metadata).annotations)[LAST_CHANGE_TRIGGER_TIME_ANNOTATION] !== undefined
  );
}

export function endpointsController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache, clock } = ctx;
  const expectations = new WriteExpectations(clock);
  /** Services seen deleted whose Endpoints (anyone's) are still to go. */
  const deletedServices = new Set<string>();

  async function deleteEndpoints(key: ObjectKey, ep: JsonObject): Promise<void> {
    try {
      await api.delete(ENDPOINTS, key.name, {
        namespace: key.namespace,
        preconditions: { uid: uidOf(ep) },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    expectations.expectDeleted(keyString(key), key.name);
  }

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    const svcKey = keyString(key);
    if (!expectations.satisfied(svcKey, (name) => cache.get(ENDPOINTS, { ...key, name })))
      return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
    const svc = cache.get(SERVICES, key);
    const existing = cache.get(ENDPOINTS, key);
    if (!svc) {
      if (existing && (deletedServices.has(svcKey) || isManagedEndpoints(existing)))
        await deleteEndpoints(key, existing);
      else expectations.forget(svcKey);
      deletedServices.delete(svcKey);
      return undefined;
    }
    deletedServices.delete(svcKey);
    if (!serviceSelector(svc) || isBeingDeleted(svc)) return undefined;

    const content = desiredContent(svc, cache.list(PODS, key.namespace));
    if (existing && jsonEqual(contentOf(existing), content)) return undefined;
    const nowIso = rfc3339(clock.wallMs());
    const base: JsonObject = existing ?? {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: key.name, namespace: key.namespace },
    };
    const next: JsonObject = {
      ...base,
      metadata: {
        ...asObject(base.metadata),
        labels: content.labels,
        annotations: annotationsFor(base, content, nowIso),
      },
      subsets: content.subsets,
    };
    const written = existing
      ? await api.update(ENDPOINTS, next, { namespace: key.namespace })
      : await api.create(ENDPOINTS, next, { namespace: key.namespace });
    expectations.expectWritten(svcKey, written);
    return undefined;
  }

  return {
    name: "endpoints",
    primary: SERVICES,
    watches: [
      {
        // remember a Service's deletion: its Endpoints go even if a user made them. The key is
        // queued again here because the primary's handler may already have started a reconcile
        // that did not know yet.
        resource: SERVICES,
        map: (svc, event) => {
          const key = { namespace: namespaceOf(svc), name: nameOf(svc) };
          if (event !== "delete") return [];
          deletedServices.add(keyString(key));
          return [key];
        },
      },
      { resource: PODS, map: (pod, _event, previous) => servicesOfPodChange(cache, pod, previous) },
      // our own output: a changed or deleted Endpoints object is compared again (drift repair)
      { resource: ENDPOINTS, map: (ep) => [{ namespace: namespaceOf(ep), name: nameOf(ep) }] },
    ],
    reconcile,
  };
}
