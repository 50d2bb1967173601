/**
 * Properties of the scheduler's pure core: quantities round-trip through their canonical form,
 * and binding each pod to the node the framework picks never takes a node past its allocatable
 * (NodeResourcesFit's promise), however pods and nodes are drawn.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatMilliCpu,
  quantityMilliValue,
  quantityValue,
} from "../../../actors/api/quantity.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import { schedulePod, seededRandom } from "../../../actors/scheduler/framework.ts";
import { newPodInfo } from "../../../actors/scheduler/node-info.ts";
import { cacheOf, node, pod } from "../../unit/scheduler/cluster-fixture.ts";

describe("quantities", () => {
  it("millicores round-trip through formatMilliCpu", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), (milli) => {
        expect(quantityMilliValue(formatMilliCpu(milli))).toBe(milli);
      }),
    );
  });

  it("bytes round-trip through formatBytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (bytes) => {
        expect(quantityValue(formatBytes(bytes))).toBe(bytes);
      }),
    );
  });

  it("decimal, binary and exponent forms agree", () => {
    expect(quantityValue("1e3")).toBe(1000);
    expect(quantityValue("1k")).toBe(1000);
    expect(quantityValue("1Ki")).toBe(1024);
    expect(quantityValue("512Mi")).toBe(512 * 2 ** 20);
    expect(quantityMilliValue("0.1")).toBe(100);
    expect(quantityMilliValue("100m")).toBe(100);
    expect(quantityMilliValue("1.5")).toBe(1500);
    expect(quantityValue("1.5Gi")).toBe(1.5 * 2 ** 30);
    expect(quantityMilliValue("1u")).toBe(1); // MilliValue rounds up
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 6 }),
        (n, e) => {
          expect(quantityValue(`${n}e${e}`)).toBe(n * 10 ** e);
        },
      ),
    );
  });
});

describe("NodeResourcesFit", () => {
  it("a node that passes every filter never exceeds allocatable after binding", () => {
    const nodeArb = fc.record({
      cpu: fc.integer({ min: 0, max: 8000 }),
      mem: fc.integer({ min: 0, max: 16 }),
    });
    const podArb = fc.record({
      cpu: fc.integer({ min: 0, max: 3000 }),
      mem: fc.integer({ min: 0, max: 4096 }),
    });
    fc.assert(
      fc.property(
        fc.array(nodeArb, { minLength: 1, maxLength: 6 }),
        fc.array(podArb, { maxLength: 40 }),
        fc.integer(),
        (nodes, pods, seed) => {
          const cache = cacheOf(
            nodes.map((n, i) => node(`n${i}`, { cpu: `${n.cpu}m`, memory: `${n.mem}Gi` })),
          );
          const random = seededRandom(seed);
          pods.forEach((p, i) => {
            const info = newPodInfo(pod(`p${i}`, { cpu: `${p.cpu}m`, memory: `${p.mem}Mi` }));
            const r = schedulePod(DEFAULT_PROFILE, info, cache, random);
            if (r.ok) cache.assume(info, r.nodeName);
          });
          for (const n of cache.nodeList()) {
            expect(n.requested.milliCpu).toBeLessThanOrEqual(n.allocatable.milliCpu);
            expect(n.requested.memoryBytes).toBeLessThanOrEqual(n.allocatable.memoryBytes);
          }
        },
      ),
    );
  });
});
