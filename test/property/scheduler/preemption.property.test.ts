/**
 * Properties of DefaultPreemption's victim selection, however nodes, pods, priorities and
 * budgets are drawn: every victim has a lower priority than the preemptor; with its victims gone
 * the preemptor passes every Filter on the nominated node; the set is minimal (giving any one
 * victim back makes the preemptor not fit); no node that could take the pod with fewer
 * PodDisruptionBudget violations was passed over; and when no node can be freed, nothing is
 * preempted.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import {
  CycleState,
  FITS,
  findFeasibleNodes,
  type NodeFilter,
} from "../../../actors/scheduler/framework.ts";
import type { NodeInfo } from "../../../actors/scheduler/node-info.ts";
import {
  defaultPreemption,
  selectVictimsOnNode,
} from "../../../actors/scheduler/plugins/default-preemption.ts";
import { cacheOf, info, node, pod } from "../../unit/scheduler/cluster-fixture.ts";

const arbCluster = fc.record({
  nodes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 5 }),
  pods: fc.array(
    fc.record({
      node: fc.nat(),
      priority: fc.integer({ min: 0, max: 100 }),
      cpu: fc.integer({ min: 1, max: 4 }),
      app: fc.constantFrom("a", "b", "c"),
    }),
    { maxLength: 25 },
  ),
  budgets: fc.array(fc.record({ app: fc.constantFrom("a", "b", "c"), allowed: fc.nat(2) }), {
    maxLength: 3,
  }),
  preemptor: fc.record({
    priority: fc.integer({ min: 0, max: 101 }),
    cpu: fc.integer({ min: 1, max: 8 }),
  }),
});

describe("DefaultPreemption", () => {
  it("victims are lower priority, sufficient, minimal, and on a node with the fewest PDB violations", () => {
    fc.assert(
      fc.property(arbCluster, ({ nodes, pods, budgets, preemptor }) => {
        const nodeObjects = nodes.map((cpu, i) => node(`n${i}`, { cpu: String(cpu) }));
        // place pods only where they fit, as a scheduler would have
        const free = [...nodes];
        const placed: JsonObject[] = [];
        pods.forEach((p, i) => {
          const at = p.node % nodes.length;
          if ((free[at] as number) < p.cpu) return;
          free[at] = (free[at] as number) - p.cpu;
          const o = pod(`p${i}`, {
            nodeName: `n${at}`,
            priority: p.priority,
            cpu: String(p.cpu),
            labels: { app: p.app },
            created: new Date(1_700_000_000_000 + i * 1000).toISOString(),
          });
          placed.push(o);
        });
        const cache = cacheOf(nodeObjects, placed);
        budgets.forEach((b, i) => {
          cache.setPdb({
            metadata: { name: `pdb${i}`, namespace: "default" },
            spec: { selector: { matchLabels: { app: b.app } } },
            status: { disruptionsAllowed: b.allowed },
          });
        });
        const p = info(
          pod("preemptor", { priority: preemptor.priority, cpu: String(preemptor.cpu) }),
        );
        const state = new CycleState();
        const { feasible, diagnosis } = findFeasibleNodes(DEFAULT_PROFILE, p, cache, state);
        fc.pre(feasible.length === 0);
        const filters = DEFAULT_PROFILE.filters
          .map((f) => f.prepareFilter(p, cache, state))
          .filter((f): f is NodeFilter => f !== null);
        const runFilters = (n: NodeInfo) => {
          for (const f of filters) if (f(n).length > 0) return f(n);
          return FITS;
        };
        const result = defaultPreemption.postFilter(p, cache, state, diagnosis, runFilters);
        const pdbs = [...cache.pdbs()];
        const candidates = cache
          .nodeList()
          .map((n) => selectVictimsOnNode(p, n, pdbs, runFilters))
          .filter((c) => c !== null);
        if (result === null) {
          expect(candidates).toEqual([]);
          return;
        }
        const chosen = cache.node(result.nominatedNodeName) as NodeInfo;
        // lower priority, all on the nominated node
        for (const v of result.victims) {
          expect(v.priority).toBeLessThan(p.priority);
          expect(chosen.hasPod(v.key)).toBe(true);
        }
        // sufficient
        const whatIf = chosen.withNode(chosen.node);
        for (const v of result.victims) whatIf.removePod(v.key);
        expect(runFilters(whatIf)).toEqual(FITS);
        // minimal: any one victim back, and the preemptor no longer fits
        for (const v of result.victims) {
          whatIf.addPod(v);
          expect(runFilters(whatIf).length).toBeGreaterThan(0);
          whatIf.removePod(v.key);
        }
        // the fewest PDB violations among all candidates
        const violations = candidates.find((c) => c?.nodeName === chosen.name)?.pdbViolations;
        expect(violations).toBe(Math.min(...candidates.map((c) => c?.pdbViolations ?? 0)));
      }),
      { numRuns: 300 },
    );
  });
});
