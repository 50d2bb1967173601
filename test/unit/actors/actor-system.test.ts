import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { assign, setup } from "xstate";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { CHAOS_CRASH_EVENT, crashForChaos } from "../../../actors/system/chaos-crash.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { ActorMessage } from "../../../actors/system/message.ts";
import type { Wire } from "../../../actors/system/wire.ts";
import type { Envelope } from "../../../transport/envelope.ts";
import { type PeerIdentity, tokenIdentity } from "../../../transport/peer-identity.ts";

const logger = pino({ level: "silent" });

/** A counter that answers asks and throws on demand. */
const counterMachine = setup({
  types: {
    context: {} as { count: number; lastBody: unknown },
    events: {} as
      | ActorMessage<"add", { n: number }>
      | ActorMessage<"get", null>
      | { type: "chaos.crash" },
  },
  actions: {
    add: assign({
      count: ({ context, event }) => (event.type === "add" ? context.count + event.body.n : 0),
      lastBody: ({ event }) => (event.type === "add" ? event.body : null),
    }),
    answer: ({ context, event }) => {
      if (event.type === "get") event.reply?.({ count: context.count });
    },
    crashForChaos,
  },
}).createMachine({
  id: "counter",
  context: { count: 0, lastBody: null },
  initial: "counting",
  states: {
    counting: {
      on: {
        add: { actions: "add" },
        get: { actions: "answer" },
        [CHAOS_CRASH_EVENT]: { actions: "crashForChaos" },
      },
    },
  },
});

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("actor system, one node", () => {
  it("tell delivers a copy, ask gets the typed reply", async () => {
    const system = new ActorSystem({ nodeId: "n1", clock: new ManualClock(), logger });
    const counter = system.spawn("counter", counterMachine);
    const body = { n: 2 };
    expect(system.tell("n1/test", "n1/counter", "add", body)).toEqual({ ok: true });
    await settle();
    body.n = 100; // the receiver must not see the sender's later mutation
    const snapshot = counter.getSnapshot() as { context: { count: number; lastBody: unknown } };
    expect(snapshot.context.count).toBe(2);
    expect(snapshot.context.lastBody).not.toBe(body);
    await expect(system.ask("n1/test", "n1/counter", "get", null)).resolves.toEqual({ count: 2 });
    system.stop();
  });

  it("an ask nobody answers times out on the injected clock", async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ nodeId: "n1", clock, logger });
    system.spawn("counter", counterMachine);
    const pending = system.ask("n1/test", "n1/counter", "add", { n: 1 }, 250);
    const outcome = pending.then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await settle();
    clock.advance(249);
    await settle();
    clock.advance(1);
    expect(await outcome).toMatch(/timed out after 250 ms/);
    system.stop();
  });

  it("a despawned actor is stopped, its name freed and reusable", async () => {
    const system = new ActorSystem({ nodeId: "n1", clock: new ManualClock(), logger });
    const first = system.spawn("counter", counterMachine);
    expect(system.despawn("counter")).toBe(true);
    expect(first.getSnapshot().status).toBe("stopped");
    expect(system.status().map((s) => s.address)).not.toContain("n1/counter");
    await expect(system.ask("n1/t", "n1/counter", "get", null)).rejects.toThrow(/no actor/);
    system.spawn("counter", counterMachine);
    await expect(system.ask("n1/t", "n1/counter", "get", null)).resolves.toEqual({ count: 0 });
    expect(system.despawn("nobody")).toBe(false);
    system.stop();
  });

  it("an ask to a missing actor fails at once with its address", async () => {
    const system = new ActorSystem({ nodeId: "n1", clock: new ManualClock(), logger });
    await expect(system.ask("n1/test", "n1/ghost", "get", null)).rejects.toThrow(
      /no actor n1\/ghost/,
    );
    system.stop();
  });

  it("asks past the in-flight limit are refused, not queued", async () => {
    const system = new ActorSystem({
      nodeId: "n1",
      clock: new ManualClock(),
      logger,
      limits: { maxInflightAsks: 2 },
    });
    system.spawn("counter", counterMachine);
    const a = system.ask("n1/t", "n1/counter", "add", { n: 1 }).catch(() => "stopped");
    const b = system.ask("n1/t", "n1/counter", "add", { n: 1 }).catch(() => "stopped");
    await expect(system.ask("n1/t", "n1/counter", "get", null)).rejects.toThrow(/too many asks/);
    system.stop();
    expect(await a).toBe("stopped");
    expect(await b).toBe("stopped");
  });

  it("a crashing actor is restarted after backoff and counted in status", async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ nodeId: "n1", clock, logger });
    system.spawn("counter", counterMachine, {
      policy: { initialBackoffMs: 100, maxBackoffMs: 1_000, stableMs: 10_000 },
    });
    system.tell("n1/t", "n1/counter", "add", { n: 5 });
    system.tell("n1/t", "n1/counter", CHAOS_CRASH_EVENT, null);
    await settle();
    let status = system.status().find((s) => s.address === "n1/counter");
    expect(status?.status).toBe("error");
    expect(status?.supervisor).toBe("backoff");
    expect(status?.lastError).toMatch(/crashed on purpose/);
    clock.advance(100);
    status = system.status().find((s) => s.address === "n1/counter");
    expect(status).toMatchObject({ status: "active", restarts: 1, supervisor: "running" });
    // restarted from its initial state, and serving again
    await expect(system.ask("n1/t", "n1/counter", "get", null)).resolves.toEqual({ count: 0 });
    system.stop();
  });

  it("backoff doubles on repeated crashes up to the cap", async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ nodeId: "n1", clock, logger });
    system.spawn("counter", counterMachine, {
      policy: { initialBackoffMs: 100, maxBackoffMs: 300, stableMs: 10_000 },
    });
    const crashAndCountWait = async (): Promise<number> => {
      system.tell("n1/t", "n1/counter", CHAOS_CRASH_EVENT, null);
      await settle();
      let waited = 0;
      while (system.status().find((s) => s.address === "n1/counter")?.status !== "active") {
        clock.advance(10);
        waited += 10;
      }
      return waited;
    };
    expect(await crashAndCountWait()).toBe(100);
    expect(await crashAndCountWait()).toBe(200);
    expect(await crashAndCountWait()).toBe(300);
    expect(await crashAndCountWait()).toBe(300);
    system.stop();
  });

  it("records transitions in the inspection ring with node, address and sequence", async () => {
    const system = new ActorSystem({
      nodeId: "n7",
      clock: new ManualClock(),
      logger,
      termOf: () => 3,
    });
    system.spawn("counter", counterMachine);
    system.tell("n7/t", "n7/counter", "add", { n: 1 });
    await settle();
    const page = system.ring.read(0, { address: "n7/counter" });
    const event = page.records.find((r) => r.kind === "@xstate.event" && r.eventType === "add");
    expect(event).toMatchObject({ nodeId: "n7", address: "n7/counter", term: 3, from: "n7/t" });
    const seqs = page.records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    system.stop();
  });
});

describe("actor system: who sent a message", () => {
  /** Records the `peer` of every message it gets. */
  const peerRecorder = setup({
    types: { context: {} as { peers: unknown[] }, events: {} as ActorMessage<"note", unknown> },
    actions: {
      note: assign({ peers: ({ context, event }) => [...context.peers, event.peer] }),
    },
  }).createMachine({
    id: "peer-recorder",
    context: { peers: [] },
    on: { note: { actions: "note" } },
  });

  const agentN2: PeerIdentity = {
    nodeId: "n2",
    commonName: "system:node:n2",
    groups: ["system:nodes"],
    serialNumber: "0b",
    role: "agent",
  };
  const self: PeerIdentity = { ...agentN2, nodeId: "n1", commonName: "system:node:n1" };

  it("hands each message the link's identity, or this node's own for a local send, never the envelope's", async () => {
    type Deliver = (envelope: Envelope, from: string, identity?: PeerIdentity) => void;
    const link: { deliver?: Deliver } = {};
    const wire: Wire = {
      send: () => ({ ok: true }),
      onEnvelope: (handler) => {
        link.deliver = handler;
      },
      localIdentity: () => self,
    };
    const system = new ActorSystem({ nodeId: "n1", clock: new ManualClock(), logger, wire });
    const recorder = system.spawn("recorder", peerRecorder);
    // a body that claims a peer changes nothing: only the link says who sent it
    const claim = { peer: { ...agentN2, role: "server" } };
    link.deliver?.(
      { to: "n1/recorder", from: "n2/kubelet", kind: "note", body: claim },
      "n2",
      agentN2,
    );
    system.tell("n1/test", "n1/recorder", "note", null);
    await settle();
    // a wire that authenticates nothing (the simulator, in-memory tests): a plaintext link's
    link.deliver?.({ to: "n1/recorder", from: "n3/x", kind: "note", body: null }, "n3");
    const { peers } = (recorder.getSnapshot() as { context: { peers: unknown[] } }).context;
    expect(peers).toEqual([agentN2, self, tokenIdentity("n3")]);
  });
});
