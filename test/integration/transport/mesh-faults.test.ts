import { afterEach, describe, expect, it } from "vitest";
import type { FaultRule } from "../../../transport/faults.ts";
import { Cluster, connected, eventually, type TestNode, tell } from "./mesh-harness.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

async function threeNodes(): Promise<[TestNode, TestNode, TestNode]> {
  const a = await cluster.start("n1", { faultsEnabled: true });
  const b = await cluster.start("n2", { faultsEnabled: true });
  const c = await cluster.start("n3", { faultsEnabled: true });
  cluster.connect(a, b, c);
  await connected(a, b);
  await connected(a, c);
  await connected(b, c);
  return [a, b, c];
}

const bodiesFrom = (node: TestNode, from: string) =>
  node.inbox.filter((m) => m.from === from).map((m) => m.envelope.body);

/**
 * Absence is proven without sleeping: frames on one link arrive in order, so once a marker sent
 * after the healed partition arrives, anything sent during it would already be there.
 */
async function sendMarker(from: TestNode, to: TestNode, marker: string): Promise<void> {
  expect(from.mesh.send(tell(from.id, to.id, marker))).toEqual({ ok: true });
  await eventually(() => expect(bodiesFrom(to, from.id)).toContain(marker));
}

describe("mesh: fault rules", () => {
  it("a partition between A and B stops both directions while A↔C works; healing restores it", async () => {
    const [a, b, c] = await threeNodes();
    a.mesh.setFaultRules([{ type: "partition", peer: "n2" }]);

    for (let i = 0; i < 5; i++) {
      expect(a.mesh.send(tell("n1", "n2", `a-during-${i}`))).toEqual({ ok: true });
      expect(b.mesh.send(tell("n2", "n1", `b-during-${i}`))).toEqual({ ok: true });
    }
    await sendMarker(a, c, "a-to-c");
    await sendMarker(c, a, "c-to-a");
    await eventually(() => expect(a.mesh.linkStates().n2?.faultDropped).toBe(10));

    a.mesh.setFaultRules([]); // heal
    await sendMarker(a, b, "a-after");
    await sendMarker(b, a, "b-after");
    expect(bodiesFrom(b, "n1")).toEqual(["a-after"]);
    expect(bodiesFrom(a, "n2")).toEqual(["b-after"]);
    expect(bodiesFrom(c, "n1")).toEqual(["a-to-c"]);
    // A partition drops frames; it does not cut the link.
    expect(a.mesh.linkStates().n2?.connects).toBe(1);
  });

  it("a one-way partition drops only the named direction", async () => {
    const [a, b] = await threeNodes();
    a.mesh.setFaultRules([{ type: "partition", peer: "n2", direction: "out" }]);
    expect(a.mesh.send(tell("n1", "n2", "dropped"))).toEqual({ ok: true });
    await sendMarker(b, a, "b-still-reaches-a");
    a.mesh.setFaultRules([]);
    await sendMarker(a, b, "a-after");
    expect(bodiesFrom(b, "n1")).toEqual(["a-after"]);

    a.mesh.setFaultRules([{ type: "partition", peer: "n2", direction: "in" }]);
    await sendMarker(a, b, "a-still-reaches-b");
    expect(b.mesh.send(tell("n2", "n1", "dropped-on-arrival"))).toEqual({ ok: true });
    // An `in` rule acts on arrival: heal only once the frame has arrived and been dropped.
    await eventually(() => expect(a.mesh.linkStates().n2?.faultDropped).toBe(2));
    a.mesh.setFaultRules([]);
    await sendMarker(b, a, "b-after");
    expect(bodiesFrom(a, "n2")).toEqual(["b-still-reaches-a", "b-after"]);
  });

  it("duplicates and delays frames as the rules say", async () => {
    const [a, b] = await threeNodes();
    const rules: FaultRule[] = [
      { type: "duplicate", probability: 1, peer: "n2", direction: "out" },
      { type: "delay", ms: 50, peer: "n2", direction: "out" },
    ];
    a.mesh.setFaultRules(rules);
    const sentAt = cluster.clock.nowMs();
    expect(a.mesh.send(tell("n1", "n2", "twice"))).toEqual({ ok: true });
    await eventually(() => expect(bodiesFrom(b, "n1")).toEqual(["twice", "twice"]));
    expect(cluster.clock.nowMs() - sentAt).toBeGreaterThanOrEqual(45);
    expect(a.mesh.linkStates().n2).toMatchObject({ faultDuplicated: 1, faultDelayed: 1 });
    // Each copy is its own object: handlers never share mutable state.
    expect(b.inbox[0]!.envelope).not.toBe(b.inbox[1]!.envelope);
  });

  it("drops with probability 1 on inbound frames from one peer only", async () => {
    const [a, b, c] = await threeNodes();
    a.mesh.setFaultRules([{ type: "drop", probability: 1, peer: "n2", direction: "in" }]);
    expect(b.mesh.send(tell("n2", "n1", "lost"))).toEqual({ ok: true });
    await sendMarker(c, a, "c-fine");
    await eventually(() => expect(a.mesh.linkStates().n2?.faultDropped).toBe(1));
    a.mesh.setFaultRules([]);
    await sendMarker(b, a, "b-after");
    expect(bodiesFrom(a, "n2")).toEqual(["b-after"]);
  });

  it("refuses fault rules unless the node was started with faults enabled, and bad rules", async () => {
    const plain = await cluster.start("n1");
    expect(() => plain.mesh.setFaultRules([{ type: "partition" }])).toThrow(
      "fault injection is disabled on n1: start it with faults enabled",
    );
    const chaos = await cluster.start("n2", { faultsEnabled: true });
    expect(() => chaos.mesh.setFaultRules([{ type: "drop", probability: 2 }])).toThrow(
      "rules[0].probability must be a number in [0, 1]",
    );
  });
});
