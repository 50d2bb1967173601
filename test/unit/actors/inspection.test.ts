import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMachine } from "xstate";
import { InspectionRing } from "../../../actors/system/inspection-ring.ts";
import { chartOf, renderMermaid, renderTree } from "../../../actors/system/machine-chart.ts";
import { peerMonitorMachine } from "../../../actors/system/peer-monitor.ts";

function push(ring: InspectionRing, address: string) {
  return ring.push({ seq: 0, nodeId: "n1", address, term: null, atMs: 0, kind: "@xstate.event" });
}

describe("inspection ring", () => {
  it("keeps the newest records and says when a reader fell behind", () => {
    const ring = new InspectionRing(4);
    for (let i = 0; i < 10; i++) push(ring, "n1/a");
    const page = ring.read(1);
    expect(page.records.map((r) => r.seq)).toEqual([7, 8, 9, 10]);
    expect(page.truncated).toBe(true);
    expect(page.nextSeq).toBe(11);
    expect(ring.read(9)).toMatchObject({ truncated: false, nextSeq: 11 });
  });

  it("reading from nextSeq in pages never skips or repeats a record (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.constantFrom("n1/a", "n1/b"), { maxLength: 200 }),
        fc.integer({ min: 1, max: 20 }),
        (capacity, addresses, pageSize) => {
          const ring = new InspectionRing(capacity);
          const seen: number[] = [];
          let next = 1;
          for (const address of addresses) {
            push(ring, address);
            const page = ring.read(next, { limit: pageSize, address: "n1/a" });
            if (!page.truncated) seen.push(...page.records.map((r) => r.seq));
            else seen.length = 0;
            next = page.nextSeq;
          }
          expect(new Set(seen).size).toBe(seen.length);
          expect(seen).toEqual([...seen].sort((a, b) => a - b));
        },
      ),
    );
  });

  it("tells live subscribers until they unsubscribe", () => {
    const ring = new InspectionRing(8);
    const got: number[] = [];
    const off = ring.subscribe((r) => got.push(r.seq));
    push(ring, "n1/a");
    off();
    push(ring, "n1/a");
    expect(got).toEqual([1]);
  });
});

describe("machine charts", () => {
  const light = createMachine({
    id: "light",
    initial: "green",
    states: {
      green: { on: { TIMER: "yellow" } },
      yellow: { after: { 500: "red" } },
      red: { initial: "walk", states: { walk: { on: { PED: "wait" } }, wait: {} } },
    },
  });

  it("draws the tree with the active states marked", () => {
    const tree = renderTree(chartOf(light), { red: "wait" });
    expect(tree).toContain("● light");
    expect(tree).toContain("○ green");
    expect(tree).toContain("● red");
    expect(tree).toContain("● wait");
    expect(tree).toContain("○ walk");
    expect(tree).toContain("TIMER → yellow");
    expect(tree).toContain("after 500 → red");
  });

  it("exports Mermaid with every transition", () => {
    const mermaid = renderMermaid(chartOf(light));
    expect(mermaid).toContain("light_green --> light_yellow : TIMER");
    expect(mermaid).toContain("light_red_walk --> light_red_wait : PED");
  });

  it("charts a parallel machine with named guards", () => {
    const chart = chartOf(peerMonitorMachine);
    expect(chart.type).toBe("parallel");
    const tree = renderTree(chart, { pinger: "pinging", mesh: "partial" });
    expect(tree).toContain("[allPeersUp] → meshed");
    expect(tree).toContain("● partial");
  });
});
