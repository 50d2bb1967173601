/**
 * The proxy statechart under a ManualClock: it serves once its informers have listed, holds the
 * cluster-IP listeners when it gets the host lock, and otherwise stands by and tries again every
 * `holderRetryMs` — so a standby takes over within one retry of the holder's death.
 */

import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { type ProxyPort, proxyMachine } from "../../../actors/proxy/proxy.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

function fakePort() {
  const calls: string[] = [];
  const state = { synced: false, lockFree: false, tries: 0 };
  const port: ProxyPort = {
    informersSynced: () => state.synced,
    syncService: (key) => calls.push(`sync ${key}`),
    syncAll: () => calls.push("syncAll"),
    tryAcquireLock: async () => {
      state.tries++;
      return state.lockFree;
    },
    setHolding: (holding) => calls.push(holding ? "hold" : "release"),
    stop: () => calls.push("stop"),
  };
  return { port, calls, state };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("proxy statechart", () => {
  it("waits for its informers, then syncs everything once and each change after", async () => {
    const clock = new ManualClock();
    const { port, calls, state } = fakePort();
    const actor = createActor(proxyMachine, { input: { port, holderRetryMs: 100 }, clock }).start();
    actor.send({ type: "service.changed", service: "a/b" });
    expect(actor.getSnapshot().value).toBe("syncing");
    state.synced = true;
    actor.send({ type: "informers.synced" });
    actor.send({ type: "service.changed", service: "a/c" });
    expect(calls).toEqual(["syncAll", "sync a/c"]);
    actor.stop();
  });

  it("stands by while another holds the lock, retrying every holderRetryMs, then holds", async () => {
    const clock = new ManualClock();
    const { port, calls, state } = fakePort();
    state.synced = true;
    const actor = createActor(proxyMachine, { input: { port, holderRetryMs: 100 }, clock }).start();
    await settle();
    expect(actor.getSnapshot().value).toEqual({ serving: "standby" });
    clock.advance(100);
    await settle();
    expect(state.tries).toBe(2);
    expect(actor.getSnapshot().value).toEqual({ serving: "standby" });
    state.lockFree = true; // the holder died: the kernel freed its socket
    clock.advance(100);
    await settle();
    expect(actor.getSnapshot().value).toEqual({ serving: "holding" });
    expect(calls).toContain("hold");
    actor.send({ type: "proxy.stop" });
    expect(calls.slice(-2)).toEqual(["release", "stop"]);
    expect(actor.getSnapshot().status).toBe("done");
  });
});
