/**
 * Properties of PodTopologySpread, however domains, pods and constraints are drawn: a node the
 * hard constraint lets through keeps every domain within maxSkew of the least loaded one once
 * the pod is there; while any domain is within maxSkew some node passes; soft scores lie in
 * 0..100 and never rank a fuller domain above an emptier one.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { CycleState } from "../../../actors/scheduler/framework.ts";
import {
  countByDomain,
  podTopologySpreadFilter,
  podTopologySpreadScore,
  spreadConstraintsOf,
} from "../../../actors/scheduler/plugins/pod-topology-spread.ts";
import { cacheOf, info, node, pod } from "../../unit/scheduler/cluster-fixture.ts";

const arb = fc.record({
  zones: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
  pods: fc.array(fc.record({ node: fc.nat(), web: fc.boolean() }), { maxLength: 20 }),
  maxSkew: fc.integer({ min: 1, max: 3 }),
});

function setup(
  zones: number[],
  pods: { node: number; web: boolean }[],
  maxSkew: number,
  when: string,
) {
  const nodes: JsonObject[] = [];
  zones.forEach((count, z) => {
    for (let i = 0; i < count; i++) nodes.push(node(`z${z}-n${i}`, { labels: { zone: `z${z}` } }));
  });
  const placed = pods.map((p, i) =>
    pod(`p${i}`, {
      nodeName: String(((nodes[p.node % nodes.length] as JsonObject).metadata as JsonObject).name),
      labels: { app: p.web ? "web" : "other" },
    }),
  );
  const cache = cacheOf(nodes, placed);
  const incoming = pod("incoming", { labels: { app: "web" } });
  (incoming.spec as JsonObject).topologySpreadConstraints = [
    {
      maxSkew,
      topologyKey: "zone",
      whenUnsatisfiable: when,
      labelSelector: { matchLabels: { app: "web" } },
    },
  ];
  return { cache, p: info(incoming) };
}

describe("PodTopologySpread", () => {
  it("a node that passes keeps the skew within maxSkew; some node passes while one could", () => {
    fc.assert(
      fc.property(arb, ({ zones, pods, maxSkew }) => {
        const { cache, p } = setup(zones, pods, maxSkew, "DoNotSchedule");
        const filter = podTopologySpreadFilter.prepareFilter(p, cache, new CycleState());
        if (filter === null) throw new Error("a hard constraint must give a filter");
        const c = spreadConstraintsOf(p.pod)[0]!;
        const counts = countByDomain(c, p, cache.nodeList());
        const min = Math.min(...counts.values());
        for (const n of cache.nodeList()) {
          const passes = filter(n).length === 0;
          const domain = n.labels.zone as string;
          const after = new Map(counts).set(domain, (counts.get(domain) ?? 0) + 1);
          const skew = Math.max(...after.values()) - Math.min(...after.values());
          if (passes) expect((counts.get(domain) ?? 0) + 1 - min).toBeLessThanOrEqual(maxSkew);
          // the least loaded domain always fits one more
          if ((counts.get(domain) ?? 0) === min) expect(passes).toBe(true);
          if (passes)
            expect(skew).toBeLessThanOrEqual(Math.max(maxSkew, Math.max(...counts.values()) - min));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("soft scores are 0..100 and an emptier domain never scores below a fuller one", () => {
    fc.assert(
      fc.property(arb, ({ zones, pods, maxSkew }) => {
        const { cache, p } = setup(zones, pods, maxSkew, "ScheduleAnyway");
        const feasible = cache.nodeList();
        const scorer = podTopologySpreadScore.prepareScore(p, cache, feasible, new CycleState());
        if (scorer === null) throw new Error("a soft constraint must give a scorer");
        const scores = feasible.map((n) => scorer.score(n));
        scorer.normalize?.(scores);
        const c = spreadConstraintsOf(p.pod)[0]!;
        const counts = countByDomain(c, p, feasible);
        feasible.forEach((a, i) => {
          expect(scores[i]).toBeGreaterThanOrEqual(0);
          expect(scores[i]).toBeLessThanOrEqual(100);
          feasible.forEach((b, j) => {
            if (
              (counts.get(a.labels.zone as string) ?? 0) <
              (counts.get(b.labels.zone as string) ?? 0)
            )
              expect(scores[i]).toBeGreaterThanOrEqual(scores[j] as number);
          });
        });
      }),
      { numRuns: 300 },
    );
  });
});
