/**
 * The `kubernetes` Service and its endpoints, kept by every API server (kube-apiserver's
 * kubernetesservice controller with the lease endpoint reconciler, reconcilers/lease.go):
 *
 *   reconciling ──done / failed──▶ waiting ──(interval)──▶ reconciling
 *   any ──reconciler.stop──▶ leaving (own Lease deleted, endpoints rewritten without us) ──▶ stopped
 *
 * Each round: create the Service if it is missing (clusterIP 127.96.0.1, 443 → the API
 * servers' port), renew this server's Lease, list the API server Leases, and write the
 * Endpoints and EndpointSlice `default/kubernetes` with every live server — only when they
 * differ, so a steady cluster writes nothing but its Leases. A server killed without a goodbye
 * drops out when its Lease expires (`leaseDurationSeconds`); one that stops cleanly removes
 * itself at once, as kube-apiserver's RemoveEndpoints does on shutdown.
 *
 * The same round keeps the `kube-dns` Service of `kube-system` (kube-dns-service.ts): each Lease
 * also names where its node's DNS server answers, once it listens, and the live ones are the
 * Service's endpoints.
 */
import type { Logger } from "pino";
import { assign, fromPromise, setup } from "xstate";
import { asObject, type JsonObject, jsonEqual } from "../api/json.ts";
import {
  DEFAULT_NAMESPACE,
  KUBE_DNS_SERVICE_IP,
  KUBE_DNS_SERVICE_NAME,
  KUBE_SYSTEM_NAMESPACE,
  KUBERNETES_SERVICE_IP,
} from "../api/well-known.ts";
import type { ObjectApi } from "../client/api-client.ts";
import { isAlreadyExists, isNotFound } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import {
  DNS_ENDPOINT_ANNOTATION,
  kubeDnsEndpointSubsets,
  kubeDnsService,
  kubeDnsSlice,
  kubeDnsSliceContent,
  liveDnsServers,
} from "./kube-dns-service.ts";
import {
  APISERVER_IDENTITY_LABEL,
  apiServerLease,
  apiServerLeaseName,
  KUBERNETES_SERVICE_NAME,
  kubernetesEndpointSubsets,
  kubernetesService,
  kubernetesSlice,
  kubernetesSliceContent,
  liveApiServers,
} from "./kubernetes-service.ts";

export const ENDPOINT_RECONCILER_ACTOR = "kubernetes-endpoints";
const LEASES = "leases.coordination.k8s.io";
const SLICES = "endpointslices.discovery.k8s.io";

/**
 * Every second (kube-apiserver: 10 s): a Lease write per server per second, as the kubelets
 * write theirs, so a new server is listed within a second.
 */
export const ENDPOINT_RECONCILE_INTERVAL_MS = 1_000;
/**
 * A server whose Lease stood still this long is dropped (kube-apiserver: 15 s). 4 s: as the
 * node monitor's grace period; a dead server still listed costs a proxied client one refused
 * dial (the proxy moves on), not a failed request.
 */
export const APISERVER_LEASE_DURATION_SECONDS = 4;
/** How long a stopping server tries to take itself out before giving up (its Lease expires). */
export const LEAVE_TIMEOUT_MS = 1_000;

export interface EndpointReconcilerInput {
  api: ObjectApi;
  clock: Clock;
  nodeId: string;
  /** `ip:port` where this API server answers. */
  endpoint: string;
  /** `ip:port` where this node's DNS server answers, or null (none, or not listening yet). */
  dnsEndpoint?: () => string | null;
  logger: Logger;
}

interface ReconcilerContext extends EndpointReconcilerInput {
  rounds: number;
  live: string[];
  liveDns: string[];
  lastError: string | null;
}

type ReconcilerEvent = { type: "reconciler.stop" };

/** Creates `object` unless another server (or an earlier round) did. */
async function createIfMissing(
  api: ObjectApi,
  resource: string,
  object: JsonObject,
  namespace: string,
): Promise<void> {
  try {
    await api.create(resource, object, { namespace });
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

/**
 * Creates a Service when this server's replica does not have it. Only a missing one is
 * created: a create of one that exists is still a store write through Raft (refused, but
 * logged and fsync'd by every member), and each server's round made two a second.
 */
async function ensureService(api: ObjectApi, service: JsonObject, namespace: string) {
  const name = String(asObject(service.metadata).name);
  try {
    await api.get("services", name, { namespace, resourceVersion: "0" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await createIfMissing(api, "services", service, namespace);
  }
}

async function writeIfChanged(
  api: ObjectApi,
  resource: string,
  desired: JsonObject,
  same: (current: JsonObject) => boolean,
): Promise<void> {
  const name = String(asObject(desired.metadata).name);
  const namespace = String(asObject(desired.metadata).namespace ?? DEFAULT_NAMESPACE);
  let current: JsonObject | null = null;
  try {
    // this server's replica (resourceVersion "0"): the update below pins the resourceVersion
    // read, so a stale copy fails with 409 and the next round writes; nothing is lost
    current = await api.get(resource, name, { namespace, resourceVersion: "0" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (current === null) {
    await createIfMissing(api, resource, desired, namespace);
    return;
  }
  if (same(current)) return;
  const meta = asObject(current.metadata);
  await api.update(
    resource,
    {
      ...current,
      ...desired,
      metadata: { ...meta, labels: asObject(asObject(desired.metadata).labels) },
    },
    { namespace },
  );
}

/** Writes the Endpoints and the EndpointSlice for `live` (a no-op when they already say so). */
async function writeEndpoints(api: ObjectApi, live: string[]): Promise<void> {
  const subsets = kubernetesEndpointSubsets(live);
  await writeIfChanged(
    api,
    "endpoints",
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: KUBERNETES_SERVICE_NAME, namespace: DEFAULT_NAMESPACE, labels: {} },
      subsets,
    },
    (current) => jsonEqual(current.subsets ?? [], subsets),
  );
  const content = kubernetesSliceContent(live);
  await writeIfChanged(
    api,
    SLICES,
    kubernetesSlice(live),
    (current) =>
      jsonEqual(current.endpoints ?? [], content.endpoints ?? []) &&
      jsonEqual(current.ports ?? [], content.ports ?? []),
  );
}

/** The `kube-dns` Endpoints and EndpointSlice for the live DNS servers. */
async function writeDnsEndpoints(api: ObjectApi, live: string[]): Promise<void> {
  const subsets = kubeDnsEndpointSubsets(live);
  await writeIfChanged(
    api,
    "endpoints",
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: KUBE_DNS_SERVICE_NAME, namespace: KUBE_SYSTEM_NAMESPACE, labels: {} },
      subsets,
    },
    (current) => jsonEqual(current.subsets ?? [], subsets),
  );
  const content = kubeDnsSliceContent(live);
  await writeIfChanged(
    api,
    SLICES,
    kubeDnsSlice(live),
    (current) =>
      jsonEqual(current.endpoints ?? [], content.endpoints ?? []) &&
      jsonEqual(current.ports ?? [], content.ports ?? []),
  );
}

interface RoundResult {
  live: string[];
  liveDns: string[];
}

const reconcileOnce = fromPromise<RoundResult, EndpointReconcilerInput>(async ({ input }) => {
  const { api, clock, nodeId, endpoint } = input;
  const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
  await ensureService(api, kubernetesService(KUBERNETES_SERVICE_IP, port), DEFAULT_NAMESPACE);
  await ensureService(api, kubeDnsService(KUBE_DNS_SERVICE_IP), KUBE_SYSTEM_NAMESPACE);
  const lease = apiServerLease(nodeId, endpoint, clock.wallMs(), APISERVER_LEASE_DURATION_SECONDS);
  const dns = input.dnsEndpoint?.() ?? null;
  if (dns !== null) {
    const meta = asObject(lease.metadata);
    lease.metadata = {
      ...meta,
      annotations: { ...asObject(meta.annotations), [DNS_ENDPOINT_ANNOTATION]: dns },
    };
  }
  try {
    const current = await api.get(LEASES, apiServerLeaseName(nodeId), {
      namespace: KUBE_SYSTEM_NAMESPACE,
    });
    await api.update(
      LEASES,
      { ...lease, metadata: { ...asObject(current.metadata), ...asObject(lease.metadata) } },
      { namespace: KUBE_SYSTEM_NAMESPACE },
    );
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await api.create(LEASES, lease, { namespace: KUBE_SYSTEM_NAMESPACE });
  }
  const leases = await api.list({
    resource: LEASES,
    namespace: KUBE_SYSTEM_NAMESPACE,
    labelSelector: APISERVER_IDENTITY_LABEL,
  });
  const live = liveApiServers(leases.items, clock.wallMs());
  if (!live.includes(endpoint)) live.push(endpoint); // renewed just now
  live.sort();
  await writeEndpoints(api, live);
  const liveDns = liveDnsServers(leases.items, live);
  if (dns !== null && !liveDns.includes(dns)) liveDns.push(dns); // renewed just now
  liveDns.sort();
  await writeDnsEndpoints(api, liveDns);
  return { live, liveDns };
});

const leave = fromPromise<void, ReconcilerContext>(async ({ input }) => {
  const { api, nodeId, endpoint } = input;
  try {
    await api.delete(LEASES, apiServerLeaseName(nodeId), { namespace: KUBE_SYSTEM_NAMESPACE });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const others = input.live.filter((e) => e !== endpoint);
  if (others.length > 0) await writeEndpoints(api, others);
  const dns = input.dnsEndpoint?.() ?? null;
  const otherDns = input.liveDns.filter((e) => e !== dns);
  if (otherDns.length > 0) await writeDnsEndpoints(api, otherDns);
});

export const endpointReconcilerMachine = setup({
  types: {
    context: {} as ReconcilerContext,
    input: {} as EndpointReconcilerInput,
    events: {} as ReconcilerEvent,
  },
  actors: { reconcileOnce, leave },
  delays: {
    reconcileInterval: ENDPOINT_RECONCILE_INTERVAL_MS,
    leaveTimeout: LEAVE_TIMEOUT_MS,
  },
  actions: {
    recordLive: assign(({ context }, { live, liveDns }: RoundResult) => ({
      live,
      liveDns,
      rounds: context.rounds + 1,
      lastError: null,
    })),
    recordFailure: assign(({ context }, error: string) => {
      // the first rounds fail until the default namespace exists: not worth a warning
      if (context.rounds > 0) context.logger.debug({ error }, "kubernetes endpoints: retrying");
      return { lastError: error };
    }),
  },
}).createMachine({
  id: "endpoint-reconciler",
  context: ({ input }) => ({ ...input, rounds: 0, live: [], liveDns: [], lastError: null }),
  initial: "reconciling",
  states: {
    reconciling: {
      on: { "reconciler.stop": { target: "leaving" } },
      invoke: {
        src: "reconcileOnce",
        input: ({ context }) => ({
          api: context.api,
          clock: context.clock,
          nodeId: context.nodeId,
          endpoint: context.endpoint,
          ...(context.dnsEndpoint ? { dnsEndpoint: context.dnsEndpoint } : {}),
          logger: context.logger,
        }),
        onDone: {
          target: "waiting",
          actions: { type: "recordLive", params: ({ event }) => event.output },
        },
        onError: {
          target: "waiting",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    waiting: {
      on: { "reconciler.stop": { target: "leaving" } },
      after: { reconcileInterval: { target: "reconciling" } },
    },
    leaving: {
      invoke: {
        src: "leave",
        input: ({ context }) => context,
        onDone: { target: "stopped" },
        onError: { target: "stopped" },
      },
      after: { leaveTimeout: { target: "stopped" } },
    },
    stopped: { type: "final" },
  },
});
