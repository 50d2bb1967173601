/**
 * The service controller (cloud-provider's controllers/service): gives every `type:
 * LoadBalancer` Service without a `loadBalancerClass` a load balancer from the cloud, and takes
 * it away again.
 *
 * - First the finalizer `service.kubernetes.io/load-balancer-cleanup`, so that a deleted Service
 *   stays until its load balancer is gone; then `ensureLoadBalancer` with the nodes that may back
 *   it; then `status.loadBalancer.ingress` and the `LoadBalancerReady` condition.
 * - A Service that cannot have one (pool exhausted, port clash, bad loadBalancerIP) gets the
 *   condition False with the provider's reason and message, and a Warning Event saying so; the
 *   key is retried with backoff (the runtime's), so a freed address is picked up.
 * - Deleted, or no longer wanting one (type changed, a class set): the load balancer is deleted,
 *   the status cleared and the finalizer removed.
 * - Node-set changes (a node added, gone, Ready or not, excluded by label, new address) requeue
 *   every load-balanced Service: its backends follow.
 */
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isNotFound } from "../client/errors.ts";
import { keyOf, keyString, type ObjectKey } from "../client/object-key.ts";
import {
  type CloudContext,
  type CloudControllerDefinition,
  type CloudControllerRuntime,
  NODES,
  SERVICES,
} from "./cloud-controller.ts";
import { CloudEventRecorder } from "./cloud-events.ts";
import {
  type LoadBalancer,
  type LoadBalancerStatus,
  LoadBalancerUnavailableError,
} from "./cloud-provider.ts";
import {
  desiredStatus,
  hasCleanupFinalizer,
  isBeingDeleted,
  loadBalancerNodes,
  loadBalancerRelevantView,
  wantsLoadBalancer,
  withCleanupFinalizer,
} from "./service-load-balancer.ts";

export const SERVICE_CONTROLLER = "service-controller";

/**
 * Services synced at once (cloud-controller-manager's `--concurrent-service-syncs`). A sync
 * waits on up to two API writes (finalizer, then status; on deletion, the finalizer's removal),
 * a few hundred ms on a loaded host: with one worker a new Service waited behind every Service
 * being deleted or ensured before it. 4: a burst of creates and deletes proceeds side by side,
 * while the writes in flight stay few. Two workers never hold the same Service (the queue).
 */
export const SERVICE_CONTROLLER_CONCURRENT_SYNCS = 4;

const uidOf = (o: JsonObject) => asString(asObject(o.metadata).uid);

export function serviceController(
  runtime: CloudControllerRuntime,
  cloud: CloudContext,
): CloudControllerDefinition {
  const { api, cache, clock } = runtime;
  const lbs = cloud.provider.loadBalancer();
  const events = new CloudEventRecorder(SERVICE_CONTROLLER, clock, cloud.postEvent);
  const nowIso = () => rfc3339(clock.wallMs());
  /**
   * The spec each Service's load balancer was last ensured for (by `namespace/name`, one entry
   * per load-balanced Service): an unchanged spec whose status already says so only needs its
   * backends updated.
   */
  const ensuredFor = new Map<string, { uid: string; spec: string }>();
  const provisioned = (status: LoadBalancerStatus) => ({
    status: "True" as const,
    reason: "Provisioned",
    message: `load balancer at ${status.ingress.map((i) => i.ip).join(", ")}`,
  });

  /** Every Service this controller looks after (to requeue on node-set changes). */
  const loadBalancedKeys = (): ObjectKey[] =>
    cache
      .list(SERVICES)
      .filter((s) => wantsLoadBalancer(s) || hasCleanupFinalizer(s))
      .map(keyOf);

  async function writeService(svc: JsonObject): Promise<JsonObject> {
    return api.update(SERVICES, svc, { namespace: keyOf(svc).namespace });
  }

  async function writeStatus(svc: JsonObject, status: JsonObject | null): Promise<JsonObject> {
    if (status === null) return svc;
    return api.update(
      SERVICES,
      { ...svc, status },
      { namespace: keyOf(svc).namespace, subresource: "status" },
    );
  }

  async function cleanUp(lb: LoadBalancer, svc: JsonObject): Promise<void> {
    ensuredFor.delete(keyString(keyOf(svc)));
    events.record(svc, "Service", "Normal", "DeletingLoadBalancer", "Deleting load balancer");
    await lb.ensureLoadBalancerDeleted(cloud.clusterName, svc);
    events.record(svc, "Service", "Normal", "DeletedLoadBalancer", "Deleted load balancer");
    let current = svc;
    if (!isBeingDeleted(svc))
      current = await writeStatus(svc, desiredStatus(svc, null, null, nowIso()));
    await writeService(withCleanupFinalizer(current, false));
  }

  async function ensure(lb: LoadBalancer, svc: JsonObject): Promise<void> {
    let current = svc;
    if (!hasCleanupFinalizer(current))
      current = await writeService(withCleanupFinalizer(current, true));
    const nodes = loadBalancerNodes(cache.list(NODES));
    // asked of the cloud, not of the Service: a cache a step behind must not say "Ensuring" twice
    const existing = await lb.getLoadBalancer(cloud.clusterName, current);
    const existed = existing !== null;
    const key = keyString(keyOf(current));
    const spec = JSON.stringify(current.spec ?? {});
    const last = ensuredFor.get(key);
    if (
      existing !== null &&
      last?.uid === uidOf(current) &&
      last.spec === spec &&
      desiredStatus(current, existing, provisioned(existing), nowIso()) === null
    ) {
      // only the node set can have changed: cloud-provider's nodeSyncLoop → UpdateLoadBalancer
      await lb.updateLoadBalancer(cloud.clusterName, current, nodes);
      return;
    }
    if (!existed)
      events.record(current, "Service", "Normal", "EnsuringLoadBalancer", "Ensuring load balancer");
    let status: Awaited<ReturnType<LoadBalancer["ensureLoadBalancer"]>>;
    try {
      status = await lb.ensureLoadBalancer(cloud.clusterName, current, nodes);
    } catch (error) {
      const reason =
        error instanceof LoadBalancerUnavailableError ? error.reason : "SyncLoadBalancerFailed";
      const message = error instanceof Error ? error.message : String(error);
      events.record(
        current,
        "Service",
        "Warning",
        "SyncLoadBalancerFailed",
        `Error syncing load balancer: failed to ensure load balancer: ${message}`,
      );
      await writeStatus(
        current,
        desiredStatus(current, null, { status: "False", reason, message }, nowIso()),
      );
      throw error; // retried with backoff
    }
    const written = await writeStatus(
      current,
      desiredStatus(current, status, provisioned(status), nowIso()),
    );
    ensuredFor.set(key, { uid: uidOf(current), spec });
    if (written !== current || !existed) {
      // a new episode: a later failure is reported again
      events.forget(current);
      events.record(current, "Service", "Normal", "EnsuredLoadBalancer", "Ensured load balancer");
    }
  }

  return {
    name: SERVICE_CONTROLLER,
    primary: SERVICES,
    primaryKind: "Service",
    // Services that never wanted a load balancer and hold no finalizer of ours are not ours
    primaryFilter: (svc) => wantsLoadBalancer(svc) || hasCleanupFinalizer(svc),
    maxConcurrentReconciles: SERVICE_CONTROLLER_CONCURRENT_SYNCS,
    watches: [
      {
        resource: NODES,
        map: (node, event, previous) =>
          event !== "update" ||
          previous === undefined ||
          loadBalancerRelevantView(node) !== loadBalancerRelevantView(previous)
            ? loadBalancedKeys()
            : [],
      },
    ],
    async reconcile(key) {
      const svc = cache.get(SERVICES, key);
      if (svc === undefined) ensuredFor.delete(keyString(key));
      if (svc === undefined || lbs === null) return undefined;
      try {
        if (wantsLoadBalancer(svc) && !isBeingDeleted(svc)) await ensure(lbs, svc);
        else if (hasCleanupFinalizer(svc)) await cleanUp(lbs, svc);
        if (isBeingDeleted(svc)) events.forget(svc);
      } catch (error) {
        if (isNotFound(error)) return undefined; // gone meanwhile: its delete event follows
        throw error;
      }
      return undefined;
    },
  };
}

/** For `bosun cloud lbs` and tests: the Service's first ingress IP, or "". */
export function ingressIPOf(svc: JsonObject): string {
  const first = asObject(asArray(asObject(asObject(svc.status).loadBalancer).ingress)[0]);
  return asString(first.ip);
}
