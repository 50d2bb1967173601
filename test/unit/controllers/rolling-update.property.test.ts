/**
 * The RollingUpdate arithmetic against Kubernetes' promise: one step of scaling old ReplicaSets
 * down never takes the pods that are really available below `replicas - maxUnavailable`, even
 * when a ReplicaSet's status still counts pods from before its last scale-down (the status
 * lags the spec until the ReplicaSet controller has deleted them and reported).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  podTemplateHash,
  REVISION_ANNOTATION,
  resolveFenceposts,
  rollingOldReplicas,
  sameTemplate,
} from "../../../actors/controllers/deployment-rollout.ts";

interface SetState {
  spec: number;
  /** Pods of this set that really are available now (≤ spec). */
  actual: number;
  /** Available pods the status still reports beyond its spec (a scale-down not yet observed). */
  staleExtra: number;
}

function replicaSet(name: string, revision: number, s: SetState): JsonObject {
  return {
    metadata: { name, annotations: { [REVISION_ANNOTATION]: String(revision) } },
    spec: { replicas: s.spec },
    // a lagging status only over-counts pods that were all available when it was written
    status: {
      replicas: s.spec + s.staleExtra,
      availableReplicas: s.actual === s.spec ? s.actual + s.staleExtra : s.actual,
    },
  };
}

function deployment(replicas: number, maxSurge: number, maxUnavailable: number): JsonObject {
  return {
    metadata: {},
    spec: {
      replicas,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge, maxUnavailable } },
    },
  };
}

const setState = fc
  .record({
    spec: fc.integer({ min: 0, max: 8 }),
    ready: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .chain(({ spec, ready }) =>
    fc.record({
      spec: fc.constant(spec),
      actual: fc.constant(Math.floor(spec * ready)),
      staleExtra: fc.integer({ min: 0, max: 3 }),
    }),
  );

describe("RollingUpdate: scaling old ReplicaSets down", () => {
  it("keeps replicas − maxUnavailable really available, whatever the statuses lag", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        setState,
        fc.array(setState, { minLength: 1, maxLength: 3 }),
        (replicas, maxSurge, maxUnavailable, fresh, olds) => {
          const d = deployment(replicas, maxSurge, maxUnavailable);
          const minAvailable = replicas - resolveFenceposts(d).maxUnavailable;
          const newRS = replicaSet("new", olds.length + 1, fresh);
          const oldRSs = olds.map((s, i) => replicaSet(`old-${i}`, i + 1, s));
          const before = fresh.actual + olds.reduce((n, s) => n + s.actual, 0);
          const next = rollingOldReplicas(d, newRS, oldRSs);
          // worst case: the ReplicaSet controller deletes available pods first
          const after =
            fresh.actual +
            olds.reduce((n, s, i) => n + Math.min(s.actual, next.get(`old-${i}`) ?? s.spec), 0);
          for (const [name, replicas_] of next) {
            const i = Number(name.slice("old-".length));
            expect(replicas_).toBeLessThan(olds[i]?.spec ?? 0); // only ever scales down
            expect(replicas_).toBeGreaterThanOrEqual(0);
          }
          expect(after).toBeGreaterThanOrEqual(Math.min(before, minAvailable));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("waits while the status still counts a pod it just scaled away (the lag the e2e test hit)", () => {
    // 4 replicas, maxSurge 1, maxUnavailable 1: old scaled 4→3 but its status still says 4
    // available; the new set's 2 pods are not ready yet → nothing more may go
    const d = deployment(4, 1, 1);
    const newRS = replicaSet("new", 2, { spec: 2, actual: 0, staleExtra: 0 });
    const old = replicaSet("old", 1, { spec: 3, actual: 3, staleExtra: 1 });
    expect(rollingOldReplicas(d, newRS, [old])).toEqual(new Map());
    // once one new pod is available, exactly one old pod may go
    const oneUp = replicaSet("new", 2, { spec: 2, actual: 1, staleExtra: 0 });
    expect(rollingOldReplicas(d, oneUp, [old])).toEqual(new Map([["old", 2]]));
  });
});

describe("rollout undo: finding a ReplicaSet by its template", () => {
  it("treats nulls and empty objects as absent and ignores the pod-template-hash label", () => {
    const mine = {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "c", image: "bosun/echo", env: [{ name: "V", value: "1" }] }] },
    };
    // what kubectl writes back from the ReplicaSet (Go structs marshal their zero values)
    const written = {
      metadata: { creationTimestamp: null, labels: { app: "web", "pod-template-hash": "abc" } },
      spec: {
        containers: [
          { name: "c", image: "bosun/echo", env: [{ name: "V", value: "1" }], resources: {} },
        ],
      },
    };
    expect(sameTemplate(mine, written)).toBe(true);
    expect(podTemplateHash(mine)).toBe(podTemplateHash(written));
    const changed = structuredClone(written);
    changed.spec.containers[0]!.env[0]!.value = "2";
    expect(sameTemplate(mine, changed)).toBe(false);
  });
});
