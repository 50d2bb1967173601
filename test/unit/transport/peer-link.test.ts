import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { ManualClock } from "../../../actors/system/clock.ts";
import {
  type LinkRole,
  type PeerLinkState,
  peerLinkMachine,
} from "../../../transport/peer-link.ts";

const BACKOFF = { initialMs: 50, maxMs: 2000, jitter: 0.2 };

function startLink(role: LinkRole, seed = 1) {
  const clock = new ManualClock();
  const effects = { opened: 0, closed: [] as string[], flushed: 0 };
  const machine = peerLinkMachine.provide({
    actions: {
      openSocket: () => {
        effects.opened++;
      },
      closeSocket: (_, params) => {
        effects.closed.push(params.reason);
      },
      flushQueue: () => {
        effects.flushed++;
      },
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { peerId: "n2", role, backoff: BACKOFF, handshakeTimeoutMs: 5000, seed },
  });
  actor.start();
  const state = () => actor.getSnapshot().value as PeerLinkState;
  const ctx = () => actor.getSnapshot().context;
  return { clock, actor, effects, state, ctx };
}

/** Drives a dialer from connecting through one failed dial into backoff; returns the delay. */
function failOnce(link: ReturnType<typeof startLink>): number {
  expect(link.state()).toBe("connecting");
  link.actor.send({ type: "SOCKET_CLOSED", reason: "connect ECONNREFUSED" });
  expect(link.state()).toBe("backoff");
  return link.ctx().retryDelayMs;
}

describe("peer link statechart: dialer", () => {
  it("dials on START and reaches connected through handshaking, flushing the queue once", () => {
    const link = startLink("dialer");
    expect(link.state()).toBe("disconnected");
    link.actor.send({ type: "START" });
    expect(link.state()).toBe("connecting");
    expect(link.effects.opened).toBe(1);
    link.actor.send({ type: "SOCKET_OPEN" });
    expect(link.state()).toBe("handshaking");
    link.actor.send({ type: "HANDSHAKE_OK" });
    expect(link.state()).toBe("connected");
    expect(link.effects.flushed).toBe(1);
    link.actor.stop();
  });

  it("backs off after a failure and redials when the retry delay elapses", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "START" });
    const delay = failOnce(link);
    expect(link.ctx()).toMatchObject({ attempts: 1, lastError: "connect ECONNREFUSED" });
    link.clock.advance(delay - 1);
    expect(link.state()).toBe("backoff");
    link.clock.advance(1);
    expect(link.state()).toBe("connecting");
    expect(link.effects.opened).toBe(2);
    link.actor.stop();
  });

  it("grows the delay exponentially, within the jitter band, and caps it at backoffMaxMs", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "START" });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const delay = failOnce(link);
      const base = Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** (attempt - 1));
      expect(delay).toBeLessThanOrEqual(base);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(base * (1 - BACKOFF.jitter)));
      delays.push(delay);
      link.clock.advance(delay);
    }
    expect(link.ctx().attempts).toBe(10);
    expect(delays[4]).toBeGreaterThan(delays[0]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(BACKOFF.maxMs);
    expect(delays.slice(6).every((d) => d > BACKOFF.maxMs * (1 - BACKOFF.jitter) - 1)).toBe(true);
    link.actor.stop();
  });

  it("jitters: different seeds choose different delays for the same attempt", () => {
    const chosen = new Set<number>();
    for (let seed = 1; seed <= 8; seed++) {
      const link = startLink("dialer", seed);
      link.actor.send({ type: "START" });
      for (let i = 0; i < 6; i++) link.clock.advance(failOnce(link));
      chosen.add(failOnce(link)); // attempt 7: base is the 2000 ms cap
      link.actor.stop();
    }
    expect(chosen.size).toBeGreaterThan(1);
  });

  it("resets the attempt count once connected, so the next failure starts from backoffInitialMs", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "START" });
    for (let i = 0; i < 5; i++) link.clock.advance(failOnce(link));
    link.actor.send({ type: "SOCKET_OPEN" });
    link.actor.send({ type: "HANDSHAKE_OK" });
    expect(link.ctx().attempts).toBe(0);
    link.actor.send({ type: "SOCKET_CLOSED", reason: "closed 1006" });
    expect(link.state()).toBe("backoff");
    expect(link.ctx().attempts).toBe(1);
    expect(link.ctx().retryDelayMs).toBeLessThanOrEqual(BACKOFF.initialMs);
    link.actor.stop();
  });

  it("gives up a handshake that takes longer than handshakeTimeoutMs", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "START" });
    link.actor.send({ type: "SOCKET_OPEN" });
    link.clock.advance(4999);
    expect(link.state()).toBe("handshaking");
    link.clock.advance(1);
    expect(link.state()).toBe("backoff");
    expect(link.ctx().lastError).toBe("handshake timeout");
    expect(link.effects.closed).toEqual(["handshake timeout"]);
    link.actor.stop();
  });

  it("ignores INBOUND: a dialer is never dialed", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "INBOUND" });
    expect(link.state()).toBe("disconnected");
    link.actor.stop();
  });

  it("leaves no timer behind when stopped", () => {
    const link = startLink("dialer");
    link.actor.send({ type: "START" });
    failOnce(link);
    expect(link.clock.pending()).toBe(1);
    link.actor.stop();
    expect(link.clock.pending()).toBe(0);
  });
});

describe("peer link statechart: acceptor", () => {
  it("waits to be dialed: disconnected → handshaking → connected → disconnected", () => {
    const link = startLink("acceptor");
    link.actor.send({ type: "START" });
    expect(link.state()).toBe("disconnected");
    link.actor.send({ type: "INBOUND" });
    expect(link.state()).toBe("handshaking");
    link.actor.send({ type: "HANDSHAKE_OK" });
    expect(link.state()).toBe("connected");
    link.actor.send({ type: "SOCKET_CLOSED", reason: "closed 1001: node stopping" });
    expect(link.state()).toBe("disconnected");
    expect(link.ctx().lastError).toBe("closed 1001: node stopping");
    expect(link.effects.opened).toBe(0);
    link.actor.stop();
  });

  it("goes back to disconnected when the dialer fails authentication", () => {
    const link = startLink("acceptor");
    link.actor.send({ type: "INBOUND" });
    link.actor.send({ type: "HANDSHAKE_FAILED", reason: "authentication failed" });
    expect(link.state()).toBe("disconnected");
    expect(link.ctx().lastError).toBe("authentication failed");
    link.actor.stop();
  });

  it("accepts a redial while connected (the peer restarted before we saw the close)", () => {
    const link = startLink("acceptor");
    link.actor.send({ type: "INBOUND" });
    link.actor.send({ type: "HANDSHAKE_OK" });
    link.actor.send({ type: "INBOUND" });
    expect(link.state()).toBe("handshaking");
    link.actor.send({ type: "HANDSHAKE_OK" });
    expect(link.state()).toBe("connected");
    expect(link.effects.flushed).toBe(2);
    link.actor.stop();
  });
});
