import { describe, expect, it } from "vitest";
import { SimNetwork } from "../../../raft/sim/network.ts";
import { SimRandom } from "../../../raft/sim/random.ts";
import { Trace } from "../../../raft/sim/trace.ts";

const calm = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };

describe("simulated network", () => {
  it("delivers every message once, within the delay bounds, when nothing is wrong", () => {
    const net = new SimNetwork<number>(new SimRandom(1), calm);
    for (let i = 0; i < 100; i++)
      expect(net.send(0, { from: "a", to: "b", payload: i })).toBeNull();
    const got: number[] = [];
    for (let t = 0; t <= 5; t++) {
      for (const e of net.takeDue(t)) {
        expect(t).toBeGreaterThanOrEqual(1);
        got.push(e.payload);
      }
    }
    expect(got.sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(net.size).toBe(0);
  });

  it("reorders messages with different delays", () => {
    const net = new SimNetwork<number>(new SimRandom(2), calm);
    for (let i = 0; i < 50; i++) net.send(0, { from: "a", to: "b", payload: i });
    const order: number[] = [];
    for (let t = 0; t <= 5; t++) for (const e of net.takeDue(t)) order.push(e.payload);
    expect(order).not.toEqual([...Array(50).keys()]);
  });

  it("cuts are directed: an asymmetric partition drops one way only", () => {
    const net = new SimNetwork<string>(new SimRandom(3), calm);
    net.cut("a", "b");
    expect(net.send(0, { from: "a", to: "b", payload: "x" })).toBe("cut");
    expect(net.send(0, { from: "b", to: "a", payload: "y" })).toBeNull();
    net.healAll();
    expect(net.send(0, { from: "a", to: "b", payload: "z" })).toBeNull();
  });

  it("loses and duplicates at the configured rates", () => {
    const net = new SimNetwork<number>(new SimRandom(4), {
      ...calm,
      lossRate: 0.5,
      duplicateRate: 0.5,
    });
    let lost = 0;
    for (let i = 0; i < 1000; i++)
      if (net.send(0, { from: "a", to: "b", payload: i }) === "loss") lost++;
    expect(lost).toBeGreaterThan(400);
    expect(lost).toBeLessThan(600);
    expect(net.size).toBeGreaterThan(1000 - lost); // duplicates
  });

  it("the trace keeps the latest events and a hash of all of them", () => {
    const a = new Trace(3);
    const b = new Trace(3);
    for (let i = 0; i < 10; i++) {
      a.record(i, `event ${i}`);
      b.record(i, `event ${i}`);
    }
    expect(a.tail().map((l) => l.trim())).toEqual(["7 event 7", "8 event 8", "9 event 9"]);
    expect(a.hash).toBe(b.hash);
    b.record(10, "one more");
    expect(a.hash).not.toBe(b.hash);
  });
});
