/**
 * The Deployment controller: owns ReplicaSets named `<deployment>-<pod-template-hash>`, one per
 * template version, numbered by the `deployment.kubernetes.io/revision` annotation. RollingUpdate
 * scales the new one up within maxSurge and the old ones down within maxUnavailable, one step
 * per reconcile (each ReplicaSet status change brings the Deployment back); Recreate scales the
 * old ones to 0, waits for their pods to go, then scales the new one up. Old ReplicaSets at 0
 * beyond `revisionHistoryLimit` are deleted. The status is what `kubectl rollout status` reads.
 *
 * Concurrency: every write carries the resourceVersion the cache had, so a stale cache ends in
 * 409 and a retry, never in a wrong scale.
 */

import { asObject, type JsonObject, jsonClone, jsonEqual } from "../api/json.ts";
import {
  fromLabelSelectorObject,
  type LabelSelectorObject,
  matches,
} from "../api/label-selector.ts";
import { POD_TEMPLATE_HASH_LABEL } from "../api/well-known.ts";
import { isAlreadyExists, isNotFound } from "../client/errors.ts";
import { withTypeMeta } from "../client/event-recorder.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import {
  deploymentStatus,
  podTemplateHash,
  REVISION_ANNOTATION,
  revisionOf,
  rollingNewReplicas,
  rollingOldReplicas,
  sameTemplate,
} from "./deployment-rollout.ts";
import {
  controllerOf,
  isBeingDeleted,
  nameOf,
  newControllerRef,
  ownerReferencesOf,
  uidOf,
  withOwnerReferences,
} from "./owner-references.ts";
import { REPLICASETS, specReplicas } from "./replicaset.ts";

export const DEPLOYMENTS = "deployments.apps";

/** The ReplicaSet for the Deployment's current template. */
export function newReplicaSetFor(
  d: JsonObject,
  hash: string,
  revision: number,
  replicas: number,
): JsonObject {
  const spec = asObject(d.spec);
  const template = jsonClone(asObject(spec.template));
  const tmeta = asObject(template.metadata);
  template.metadata = {
    ...tmeta,
    labels: { ...asObject(tmeta.labels), [POD_TEMPLATE_HASH_LABEL]: hash },
  };
  const selector = asObject(spec.selector);
  const dmeta = asObject(d.metadata);
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: `${nameOf(d)}-${hash}`,
      namespace: String(dmeta.namespace ?? ""),
      labels: { ...asObject(tmeta.labels), [POD_TEMPLATE_HASH_LABEL]: hash },
      annotations: { [REVISION_ANNOTATION]: String(revision) },
      ownerReferences: [newControllerRef(d) as unknown as JsonObject],
    },
    spec: {
      replicas,
      selector: {
        ...selector,
        matchLabels: { ...asObject(selector.matchLabels), [POD_TEMPLATE_HASH_LABEL]: hash },
      },
      template,
      ...(spec.minReadySeconds !== undefined ? { minReadySeconds: spec.minReadySeconds } : {}),
    },
  };
}

function withReplicas(rs: JsonObject, replicas: number): JsonObject {
  return { ...rs, spec: { ...asObject(rs.spec), replicas } };
}

function withRevision(o: JsonObject, revision: number): JsonObject {
  const meta = asObject(o.metadata);
  return {
    ...o,
    metadata: {
      ...meta,
      annotations: { ...asObject(meta.annotations), [REVISION_ANNOTATION]: String(revision) },
    },
  };
}

const hashOf = (rs: JsonObject) =>
  String(asObject(asObject(rs.metadata).labels)[POD_TEMPLATE_HASH_LABEL] ?? "");

export function deploymentController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache, clock } = ctx;
  const recorder = ctx.events.newRecorder({ component: "deployment-controller" });

  /** Kubernetes' ScalingReplicaSet event, on the Deployment. */
  function scaled(d: JsonObject, rs: JsonObject, from: number, to: number): void {
    if (from === to) return;
    recorder.event(
      withTypeMeta(d, "apps/v1", "Deployment"),
      "Normal",
      "ScalingReplicaSet",
      `Scaled ${to > from ? "up" : "down"} replica set ${nameOf(rs)} from ${from} to ${to}`,
    );
  }

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    let d = cache.get(DEPLOYMENTS, key);
    if (!d || isBeingDeleted(d)) return undefined;
    const ns = key.namespace;
    const selector = fromLabelSelectorObject(
      asObject(d.spec).selector as unknown as LabelSelectorObject | undefined,
    );
    const uid = uidOf(d);
    const owned: JsonObject[] = [];
    for (const rs of cache.list(REPLICASETS, ns)) {
      const ref = controllerOf(rs);
      if (ref?.uid === uid) owned.push(rs);
      else if (
        !ref &&
        !isBeingDeleted(rs) &&
        matches(selector, asObject(asObject(rs.metadata).labels) as Record<string, string>)
      ) {
        owned.push(
          await api.update(
            REPLICASETS,
            withOwnerReferences(rs, [...ownerReferencesOf(rs), newControllerRef(d)]),
            { namespace: ns },
          ),
        );
      }
    }

    const hash = podTemplateHash(asObject(d.spec).template);
    // by content, as Kubernetes' FindNewReplicaSet does: `rollout undo` writes an old
    // template back, and its ReplicaSet must be found even if the bytes differ a little
    const template = asObject(d.spec).template;
    let newRS =
      owned.find((rs) => sameTemplate(asObject(rs.spec).template, template)) ??
      owned.find((rs) => hashOf(rs) === hash);
    let old = owned.filter((rs) => rs !== newRS);
    const maxOldRevision = old.reduce((n, rs) => Math.max(n, revisionOf(rs)), 0);
    const revision =
      newRS && revisionOf(newRS) > maxOldRevision ? revisionOf(newRS) : maxOldRevision + 1;
    const recreate = asObject(asObject(d.spec).strategy).type === "Recreate";
    const paused = asObject(d.spec).paused === true;

    if (!newRS && !paused) {
      const oldActive = old.some((rs) => specReplicas(rs) > 0);
      const initial = recreate
        ? oldActive
          ? 0
          : specReplicas(d)
        : rollingNewReplicas(d, newReplicaSetFor(d, hash, revision, 0), owned);
      try {
        newRS = await api.create(REPLICASETS, newReplicaSetFor(d, hash, revision, initial), {
          namespace: ns,
        });
        scaled(d, newRS, 0, initial);
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
        // made by an earlier reconcile whose answer we lost, or a hash collision
        const existing = await api.get(REPLICASETS, `${nameOf(d)}-${hash}`, { namespace: ns });
        if (controllerOf(existing)?.uid !== uid)
          throw new Error(
            `ReplicaSet ${nameOf(d)}-${hash} exists and is not owned by ${nameOf(d)}`,
          );
        newRS = existing;
      }
    } else if (newRS && revisionOf(newRS) !== revision) {
      newRS = await api.update(REPLICASETS, withRevision(newRS, revision), { namespace: ns });
    }
    if (newRS && revisionOf(d) !== revision) {
      d = await api.update(DEPLOYMENTS, withRevision(d, revision), { namespace: ns });
    }
    old = owned.filter((rs) => nameOf(rs) !== (newRS ? nameOf(newRS) : ""));

    if (newRS && !paused) {
      const deployment = d;
      const scale = async (rs: JsonObject, replicas: number) => {
        const updated = await api.update(REPLICASETS, withReplicas(rs, replicas), {
          namespace: ns,
        });
        scaled(deployment, rs, specReplicas(rs), replicas);
        return updated;
      };
      if (recreate) {
        const oldActive = old.filter((rs) => specReplicas(rs) > 0);
        if (oldActive.length > 0) {
          await Promise.all(oldActive.map((rs) => scale(rs, 0)));
        } else if (old.every((rs) => Number(asObject(rs.status).replicas ?? 0) === 0)) {
          if (specReplicas(newRS) !== specReplicas(d)) newRS = await scale(newRS, specReplicas(d));
        }
      } else {
        const target = rollingNewReplicas(d, newRS, [newRS, ...old]);
        if (target !== specReplicas(newRS)) {
          newRS = await scale(newRS, target);
        } else {
          const down = rollingOldReplicas(d, newRS, old);
          await Promise.all(
            old
              .filter((rs) => down.has(nameOf(rs)))
              .map((rs) => scale(rs, down.get(nameOf(rs)) ?? 0)),
          );
        }
      }
      await cleanupHistory(d, old);
    }

    const current = newRS ? [newRS, ...old] : old;
    const status = deploymentStatus(d, newRS, current, clock.wallMs());
    if (!jsonEqual(status, asObject(d.status))) {
      await api.update(DEPLOYMENTS, { ...d, status }, { namespace: ns, subresource: "status" });
    }
    return undefined;
  }

  /** Old ReplicaSets at 0 beyond `revisionHistoryLimit` go, oldest first. */
  async function cleanupHistory(d: JsonObject, old: JsonObject[]) {
    const limit = Number(asObject(d.spec).revisionHistoryLimit ?? 10);
    const idle = old
      .filter((rs) => specReplicas(rs) === 0 && Number(asObject(rs.status).replicas ?? 0) === 0)
      .filter((rs) => !isBeingDeleted(rs))
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit))) {
      try {
        await api.delete(REPLICASETS, nameOf(rs), {
          namespace: String(asObject(rs.metadata).namespace),
          preconditions: { uid: uidOf(rs) },
        });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  return {
    name: "deployment",
    primary: DEPLOYMENTS,
    primaryKind: "Deployment",
    owns: [REPLICASETS],
    reconcile,
  };
}
