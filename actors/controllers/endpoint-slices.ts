/**
 * The EndpointSlice controller (kube-controller-manager's `endpointslice` controller): for every
 * Service with a selector, discovery.k8s.io/v1 EndpointSlices labelled
 * `kubernetes.io/service-name=<svc>` and `endpointslice.kubernetes.io/managed-by=
 * endpointslice-controller.k8s.io`, owned by the Service (controller ownerReference), of
 * addressType IPv4, at most `MAX_ENDPOINTS_PER_SLICE` endpoints each, named `<svc>-<random>`.
 * Each endpoint is a selected pod's IP with conditions {ready, serving, terminating}, its
 * nodeName and its pod as targetRef; terminating pods stay (not ready) so proxies can drain them.
 * What to write is `planEndpointSlices`; this file reads the caches and applies the plan.
 *
 * - A deleted Service, one that lost its selector, or an ExternalName one loses our slices
 *   (Kubernetes leaves them for the garbage collector or keeps stale ones; stale endpoints would
 *   keep routing to pods that no longer match).
 * - Slices are watched too: one that someone edited or deleted is brought back.
 * - Our own writes are expected (`WriteExpectations`) before the cache is trusted again: with
 *   generateName a second create from a stale cache would not fail, it would duplicate.
 */

import { asObject, type JsonObject } from "../api/json.ts";
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from "../api/well-known.ts";
import { isNotFound } from "../client/errors.ts";
import { keyString, type ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import {
  isManagedSliceOf,
  MANAGED_BY_ENDPOINTSLICE_CONTROLLER,
  MAX_ENDPOINTS_PER_SLICE,
  planEndpointSlices,
} from "./endpoint-slice-plan.ts";
import { nameOf, namespaceOf, uidOf } from "./owner-references.ts";
import { EXPECTATIONS_RECHECK_MS } from "./replicaset.ts";
import { PODS, SERVICES, serviceSelector, servicesOfPodChange } from "./service-pods.ts";
import { WriteExpectations } from "./write-expectations.ts";

export const ENDPOINT_SLICES = "endpointslices.discovery.k8s.io";

/**
 * Services synced at once (kube-controller-manager's `--concurrent-service-endpoint-syncs`, whose
 * default this is): a new Service's first slice must not wait behind the slice deletions of
 * Services removed just before it, each an API write.
 */
export const ENDPOINT_SLICE_CONCURRENT_SYNCS = 5;

export interface EndpointSliceOptions {
  maxEndpointsPerSlice: number;
}

export function endpointSliceController(
  ctx: ControllerContext,
  overrides: Partial<EndpointSliceOptions> = {},
): ControllerDefinition {
  const { api, cache, clock } = ctx;
  const maxEndpointsPerSlice = overrides.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
  const expectations = new WriteExpectations(clock);

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    const svcKey = keyString(key);
    const ns = key.namespace;
    if (
      !expectations.satisfied(svcKey, (name) => cache.get(ENDPOINT_SLICES, { namespace: ns, name }))
    )
      return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
    const slices = cache.list(ENDPOINT_SLICES, ns).filter((s) => isManagedSliceOf(s, key.name));
    const svc = cache.get(SERVICES, key);
    const serves =
      svc !== undefined &&
      serviceSelector(svc) !== null &&
      asObject(svc.spec).type !== "ExternalName";
    const plan = serves
      ? planEndpointSlices(svc, cache.list(PODS, ns), slices, maxEndpointsPerSlice)
      : { create: [], update: [], delete: slices };
    if (!serves && slices.length === 0) expectations.forget(svcKey);

    const errors: unknown[] = [];
    const each = async (items: JsonObject[], act: (o: JsonObject) => Promise<void>) => {
      for (const r of await Promise.allSettled(items.map(act)))
        if (r.status === "rejected") errors.push(r.reason);
    };
    // new endpoints first, removals last: proxies never see fewer endpoints than they should
    await each(plan.create, async (slice) => {
      expectations.expectWritten(
        svcKey,
        await api.create(ENDPOINT_SLICES, slice, { namespace: ns }),
      );
    });
    await each(plan.update, async (slice) => {
      expectations.expectWritten(
        svcKey,
        await api.update(ENDPOINT_SLICES, slice, { namespace: ns }),
      );
    });
    await each(plan.delete, async (slice) => {
      try {
        await api.delete(ENDPOINT_SLICES, nameOf(slice), {
          namespace: ns,
          preconditions: { uid: uidOf(slice) },
        });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      expectations.expectDeleted(svcKey, nameOf(slice));
    });
    if (errors.length > 0) throw errors[0];
    return undefined;
  }

  return {
    name: "endpointslice",
    primary: SERVICES,
    maxConcurrentReconciles: ENDPOINT_SLICE_CONCURRENT_SYNCS,
    watches: [
      { resource: PODS, map: (pod, _event, previous) => servicesOfPodChange(cache, pod, previous) },
      {
        // our own output, by its service-name label: drift is repaired, leftovers are removed
        resource: ENDPOINT_SLICES,
        map: (slice) => {
          const labels = asObject(asObject(slice.metadata).labels);
          const service = labels[SERVICE_NAME_LABEL];
          if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_ENDPOINTSLICE_CONTROLLER) return [];
          return typeof service === "string" && service !== ""
            ? [{ namespace: namespaceOf(slice), name: service }]
            : [];
        },
      },
    ],
    reconcile,
  };
}
