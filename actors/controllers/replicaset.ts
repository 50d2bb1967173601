/**
 * The ReplicaSet controller (kube-controller-manager's `replicaset` controller): keeps
 * `spec.replicas` active pods matching the selector, each with a controller ownerReference to
 * the ReplicaSet; adopts matching orphans, releases owned pods that stopped matching; reports
 * `status.replicas/fullyLabeledReplicas/readyReplicas/availableReplicas/observedGeneration`.
 *
 * `planReplicaSet` is the pure decision; the reconcile function reads the caches, applies the
 * plan through the API, and guards against its own stale cache with expectations.
 */

import { randomInt } from "node:crypto";
import { asObject, type JsonObject, jsonClone, jsonEqual } from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelectorObject,
  matches,
} from "../api/label-selector.ts";
import { GENERATE_NAME_ALPHABET, GENERATE_NAME_SUFFIX_LENGTH } from "../api/object-meta.ts";
import { isNotFound } from "../client/errors.ts";
import { withTypeMeta } from "../client/event-recorder.ts";
import { keyString, type ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { Expectations } from "./expectations.ts";
import {
  controllerOf,
  isBeingDeleted,
  nameOf,
  namespaceOf,
  newControllerRef,
  ownerReferencesOf,
  uidOf,
  withOwnerReferences,
} from "./owner-references.ts";
import { isPodActive, isPodReady } from "./pod-conditions.ts";

export const REPLICASETS = "replicasets.apps";
export const PODS = "pods";
/** kube-controller-manager's burstReplicas: pods created or deleted per reconcile, at most. */
export const MAX_POD_CHANGES_PER_RECONCILE = 500;
/** While our own creates/deletes are not yet in the cache, look again after this. */
export const EXPECTATIONS_RECHECK_MS = 250;

export interface ReplicaSetPlan {
  adopt: JsonObject[];
  release: JsonObject[];
  /** Pods to create. */
  create: number;
  delete: JsonObject[];
  /** The status the ReplicaSet should report (as of the pods seen). */
  status: JsonObject;
}

function labelsOf(o: JsonObject): Record<string, string> {
  return asObject(asObject(o.metadata).labels) as Record<string, string>;
}

function selectorOf(rs: JsonObject) {
  return fromLabelSelectorObject(
    asObject(rs.spec).selector as unknown as LabelSelectorObject | undefined,
  );
}

export function specReplicas(o: JsonObject): number {
  const r = asObject(o.spec).replicas;
  return typeof r === "number" ? r : 1;
}

/**
 * Which pods to delete first when scaling down (`controller.ActivePods` ordering, simplified):
 * not scheduled before scheduled, not ready before ready, newer before older.
 */
export function deletionOrder(a: JsonObject, b: JsonObject): number {
  const scheduled = (p: JsonObject) => (asObject(p.spec).nodeName ? 1 : 0);
  const ready = (p: JsonObject) => (isPodReady(p) ? 1 : 0);
  const created = (p: JsonObject) => String(asObject(p.metadata).creationTimestamp ?? "");
  return (
    scheduled(a) - scheduled(b) ||
    ready(a) - ready(b) ||
    created(b).localeCompare(created(a)) ||
    nameOf(b).localeCompare(nameOf(a))
  );
}

/** The pure decision: given a ReplicaSet and the pods of its namespace, what to do. */
export function planReplicaSet(rs: JsonObject, pods: readonly JsonObject[]): ReplicaSetPlan {
  const uid = uidOf(rs);
  const selector = selectorOf(rs);
  const adopt: JsonObject[] = [];
  const release: JsonObject[] = [];
  const owned: JsonObject[] = [];
  for (const pod of pods) {
    if (!isPodActive(pod)) continue;
    const ref = controllerOf(pod);
    const matching = matches(selector, labelsOf(pod));
    if (ref && ref.uid === uid) {
      if (matching) owned.push(pod);
      else release.push(pod);
    } else if (!ref && matching && !isBeingDeleted(rs)) {
      adopt.push(pod);
      owned.push(pod);
    }
  }
  const want = specReplicas(rs);
  const diff = owned.length - want;
  const create = isBeingDeleted(rs)
    ? 0
    : Math.max(0, Math.min(-diff, MAX_POD_CHANGES_PER_RECONCILE));
  const toDelete =
    diff > 0 && !isBeingDeleted(rs)
      ? [...owned].sort(deletionOrder).slice(0, Math.min(diff, MAX_POD_CHANGES_PER_RECONCILE))
      : [];
  const templateLabels = asObject(asObject(asObject(rs.spec).template).metadata).labels;
  const fullyLabeled = owned.filter((p) =>
    Object.entries(asObject(templateLabels)).every(([k, v]) => labelsOf(p)[k] === v),
  ).length;
  const ready = owned.filter(isPodReady).length;
  const status: JsonObject = {
    ...asObject(rs.status),
    replicas: owned.length,
    fullyLabeledReplicas: fullyLabeled,
    readyReplicas: ready,
    availableReplicas: ready,
    observedGeneration: asObject(rs.metadata).generation ?? 1,
  };
  return { adopt, release, create, delete: toDelete, status };
}

/** A pod for `rs` from its template: `<rs>-<5 random chars>`, owned by the ReplicaSet. */
export function podFromTemplate(rs: JsonObject, suffix: string): JsonObject {
  const template = asObject(asObject(rs.spec).template);
  const tmeta = asObject(template.metadata);
  const metadata: JsonObject = {
    name: `${nameOf(rs)}-${suffix}`,
    namespace: namespaceOf(rs),
    labels: jsonClone(asObject(tmeta.labels)),
    ownerReferences: [newControllerRef(rs) as unknown as JsonObject],
  };
  if (tmeta.annotations) metadata.annotations = jsonClone(asObject(tmeta.annotations));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec: jsonClone(asObject(template.spec)),
  };
}

export function randomPodSuffix(): string {
  let s = "";
  for (let i = 0; i < GENERATE_NAME_SUFFIX_LENGTH; i++)
    s += GENERATE_NAME_ALPHABET[randomInt(GENERATE_NAME_ALPHABET.length)];
  return s;
}

export function replicaSetController(
  ctx: ControllerContext,
  options: { suffix?: () => string } = {},
): ControllerDefinition {
  const expectations = new Expectations(ctx.clock);
  const suffix = options.suffix ?? randomPodSuffix;
  const { api, cache } = ctx;
  // kube-controller-manager's ReplicaSet controller reports as `replicaset-controller`
  const recorder = ctx.events.newRecorder({ component: "replicaset-controller" });
  const rsObject = (rs: JsonObject) => withTypeMeta(rs, "apps/v1", "ReplicaSet");

  async function reconcile(key: ObjectKey) {
    const rsKey = keyString(key);
    const rs = cache.get(REPLICASETS, key);
    if (!rs) {
      expectations.forget(rsKey);
      return;
    }
    const ns = key.namespace;
    const plan = planReplicaSet(rs, cache.list(PODS, ns));
    const errors: unknown[] = [];
    const tryEach = async (items: JsonObject[], act: (o: JsonObject) => Promise<unknown>) => {
      const results = await Promise.allSettled(items.map(act));
      for (const r of results) if (r.status === "rejected") errors.push(r.reason);
    };

    await tryEach(plan.adopt, (pod) =>
      api.update(
        PODS,
        withOwnerReferences(pod, [...ownerReferencesOf(pod), newControllerRef(rs)]),
        {
          namespace: ns,
        },
      ),
    );
    await tryEach(plan.release, (pod) =>
      api.update(
        PODS,
        withOwnerReferences(
          pod,
          ownerReferencesOf(pod).filter((r) => r.uid !== uidOf(rs)),
        ),
        { namespace: ns },
      ),
    );

    const settled = expectations.satisfied(rsKey, (k) => {
      const slash = k.indexOf("/");
      return (
        cache.get(PODS, { namespace: k.slice(0, slash), name: k.slice(slash + 1) }) !== undefined
      );
    });
    if (settled && plan.create > 0) {
      const created: string[] = [];
      await tryEach(Array.from({ length: plan.create }), async () => {
        let pod: JsonObject;
        try {
          pod = await api.create(PODS, podFromTemplate(rs, suffix()), { namespace: ns });
        } catch (error) {
          recorder.event(
            rsObject(rs),
            "Warning",
            "FailedCreate",
            `Error creating: ${String(error)}`,
          );
          throw error;
        }
        recorder.event(rsObject(rs), "Normal", "SuccessfulCreate", `Created pod: ${nameOf(pod)}`);
        created.push(`${ns}/${nameOf(pod)}`);
      });
      expectations.expectCreated(rsKey, created);
    }
    if (settled && plan.delete.length > 0) {
      const deleted: string[] = [];
      await tryEach(plan.delete, async (pod) => {
        try {
          await api.delete(PODS, nameOf(pod), {
            namespace: ns,
            preconditions: { uid: uidOf(pod) },
          });
          recorder.event(rsObject(rs), "Normal", "SuccessfulDelete", `Deleted pod: ${nameOf(pod)}`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        deleted.push(`${ns}/${nameOf(pod)}`);
      });
      expectations.expectDeleted(rsKey, deleted);
    }

    if (!jsonEqual(plan.status, asObject(rs.status))) {
      try {
        await api.update(
          REPLICASETS,
          { ...rs, status: plan.status },
          {
            namespace: ns,
            subresource: "status",
          },
        );
      } catch (error) {
        if (!isNotFound(error)) errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
    if (!settled) return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
  }

  return {
    name: "replicaset",
    primary: REPLICASETS,
    primaryKind: "ReplicaSet",
    owns: [PODS],
    reconcile,
  };
}
