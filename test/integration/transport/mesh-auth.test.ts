import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Cluster, connected, eventually, TOKEN, tell } from "./mesh-harness.ts";
import { rawHandshake, rawSocket } from "./raw-peer.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

describe("mesh: authentication with the join token", () => {
  it("rejects a node with the wrong token; nothing is delivered; the good nodes keep talking", async () => {
    const n1 = await cluster.start("n1");
    const n2 = await cluster.start("n2");
    const n3 = await cluster.start("n3", { token: "not-the-cluster-token" });
    cluster.connect(n1, n2, n3);
    await connected(n1, n2);

    // n1 dials n3 and n2 dials n3: n3 cannot prove the token, and cannot answer for it either.
    await eventually(() => {
      expect(n1.mesh.linkStates().n3?.lastError).toMatch(/authentication failed/);
      expect(n2.mesh.linkStates().n3?.lastError).toMatch(/authentication failed/);
    });
    expect(n3.mesh.linkStates().n1?.state).not.toBe("connected");
    expect(n1.mesh.send(tell("n1", "n3", "secret"))).toEqual({ ok: true }); // queued, never sent
    expect(n3.mesh.send(tell("n3", "n1", "forged"))).toEqual({ ok: true });

    const warned = n3.logs.find((l) => l.msg === "closing link: bad input" && l.code === 1008);
    expect(warned?.reason).toMatch(/authentication failed for n[12]/);
    expect(n3.mesh.counters().handshakesRejected).toBeGreaterThan(0);

    expect(n1.mesh.send(tell("n1", "n2", "still here"))).toEqual({ ok: true });
    expect(n2.mesh.send(tell("n2", "n1", "me too"))).toEqual({ ok: true });
    await eventually(() => expect(n2.inbox.map((m) => m.envelope.body)).toEqual(["still here"]));
    await eventually(() => expect(n1.inbox.map((m) => m.envelope.body)).toEqual(["me too"]));
    expect(n3.inbox).toHaveLength(0);
    expect(n1.mesh.linkStates().n3).toMatchObject({ sentFrames: 0, queuedFrames: 1 });
  });

  it("closes a socket that claims an unknown node id with 1008", async () => {
    const n5 = await cluster.start("n5");
    const raw = await rawHandshake(n5.address, "n4", "n5", TOKEN);
    expect(await raw.closed).toEqual({ code: 1008, reason: "unknown peer n4" });
    expect(await raw.authenticated).toBe(false);
  });

  it("closes a socket that dials the wrong way (the smaller id dials)", async () => {
    const n5 = await cluster.start("n5");
    n5.mesh.addPeer("n6", "127.0.0.1:1");
    const raw = await rawHandshake(n5.address, "n6", "n5", TOKEN);
    expect(await raw.closed).toEqual({ code: 1008, reason: "n5 dials n6, not the reverse" });
  });

  it("closes a socket that never answers the challenge after handshakeTimeoutMs", async () => {
    const n5 = await cluster.start("n5", { limits: { handshakeTimeoutMs: 200 } });
    const raw = await rawSocket(n5.address);
    expect(await raw.closed).toEqual({ code: 1008, reason: "handshake timeout" });
    expect(n5.mesh.counters().pendingHandshakes).toBe(0);
  });

  it("does not disturb a connected link when an impostor fails the handshake under its name", async () => {
    const n1 = await cluster.start("n1");
    const n2 = await cluster.start("n2");
    cluster.connect(n1, n2);
    await connected(n1, n2);
    const impostor = await rawHandshake(n2.address, "n1", "n2", "guessed-token");
    expect(await impostor.closed).toEqual({ code: 1008, reason: "authentication failed for n1" });
    expect(n2.mesh.linkStates().n1).toMatchObject({ state: "connected", authFailures: 1 });
    expect(n1.mesh.send(tell("n1", "n2", "unharmed"))).toEqual({ ok: true });
    await eventually(() => expect(n2.inbox.map((m) => m.envelope.body)).toEqual(["unharmed"]));
  });

  it("refuses WebSocket upgrades on other paths", async () => {
    const n1 = await cluster.start("n1");
    const ws = new WebSocket(`ws://${n1.address}/other`);
    const status = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", () => resolve(-1));
    });
    expect(status).toBe(404);
    expect(n1.mesh.counters().upgradesRefused).toBe(1);
  });
});
