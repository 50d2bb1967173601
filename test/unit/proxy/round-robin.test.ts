/**
 * Endpoint selection (kube-proxy userspace's LoadBalancerRR): round robin over the ready
 * endpoints, ClientIP session affinity with its timeout, moving on past endpoints whose dial
 * failed. Time is a number the test moves (the fake clock of a pure function).
 */
import { describe, expect, it } from "vitest";
import { RoundRobin } from "../../../actors/proxy/round-robin.ts";

const A = "127.200.0.1:8080";
const B = "127.200.0.2:8080";
const C = "127.200.0.3:8080";

describe("round robin", () => {
  it("spreads new connections evenly over the ready endpoints", () => {
    const rr = new RoundRobin(null, 100);
    rr.setEndpoints([C, A, B]);
    const picks = Array.from({ length: 6 }, () => rr.pick("127.0.0.1", 0));
    expect(picks).toEqual([A, B, C, A, B, C]);
  });

  it("has nothing to offer without endpoints", () => {
    const rr = new RoundRobin(null, 100);
    expect(rr.pick("127.0.0.1", 0)).toBeNull();
  });

  it("moves past endpoints whose dial failed, and gives up when all failed", () => {
    const rr = new RoundRobin(null, 100);
    rr.setEndpoints([A, B, C]);
    const tried = new Set<string>();
    const order: (string | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const e = rr.pick("127.0.0.1", 0, tried);
      order.push(e);
      if (e) tried.add(e);
    }
    expect(order).toEqual([A, B, C, null]);
  });

  it("keeps its place in the rotation when an endpoint joins or leaves", () => {
    const rr = new RoundRobin(null, 100);
    rr.setEndpoints([A, B]);
    expect(rr.pick("x", 0)).toBe(A);
    rr.setEndpoints([A, B, C]);
    expect([rr.pick("x", 0), rr.pick("x", 0), rr.pick("x", 0)]).toEqual([B, C, A]);
    rr.setEndpoints([A, C]);
    // the endpoint next in line (B) left: the rotation starts over
    expect(rr.pick("x", 0)).toBe(A);
  });
});

describe("ClientIP session affinity", () => {
  it("sends a client to the same endpoint while it comes back within the timeout", () => {
    const rr = new RoundRobin(10_000, 100);
    rr.setEndpoints([A, B, C]);
    const first = rr.pick("127.200.9.9", 0);
    for (let t = 1_000; t <= 30_000; t += 5_000) expect(rr.pick("127.200.9.9", t)).toBe(first);
    // other clients are still balanced
    expect(rr.pick("127.200.9.8", 30_000)).not.toBe(first);
  });

  it("re-balances a client after timeoutSeconds of silence", () => {
    const rr = new RoundRobin(10_000, 100);
    rr.setEndpoints([A, B, C]);
    expect(rr.pick("c1", 0)).toBe(A);
    expect(rr.pick("c2", 0)).toBe(B);
    expect(rr.pick("c1", 10_001)).toBe(C);
  });

  it("forgets an affinity to an endpoint that left, or whose dial failed", () => {
    const rr = new RoundRobin(10_000, 100);
    rr.setEndpoints([A, B, C]);
    expect(rr.pick("c1", 0)).toBe(A);
    rr.setEndpoints([B, C]);
    const next = rr.pick("c1", 1);
    expect([B, C]).toContain(next);
    expect(rr.pick("c1", 2, new Set([next as string]))).not.toBe(next);
  });

  it("holds at most maxAffinities clients, dropping the least recently used", () => {
    const rr = new RoundRobin(10_000, 2);
    rr.setEndpoints([A, B, C]);
    rr.pick("c1", 0);
    rr.pick("c2", 0);
    rr.pick("c1", 1); // c1 used again: c2 is now the oldest
    rr.pick("c3", 2);
    expect(rr.affinityCount()).toBe(2);
  });
});
