import { afterEach, describe, expect, it } from "vitest";
import { tokenIdentity } from "../../../transport/peer-identity.ts";
import { Cluster, connected, eventually, tell } from "./mesh-harness.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

describe("mesh: tell between two nodes", () => {
  it("delivers envelopes both ways over one authenticated link", async () => {
    const a = await cluster.start("n1");
    const b = await cluster.start("n2");
    cluster.connect(a, b);
    await connected(a, b);
    expect(a.mesh.linkStates().n2).toMatchObject({ role: "dialer", state: "connected" });
    expect(b.mesh.linkStates().n1).toMatchObject({ role: "acceptor", state: "connected" });

    expect(a.mesh.send(tell("n1", "n2", { hello: "b", n: [1, 2, 3] }))).toEqual({ ok: true });
    expect(b.mesh.send(tell("n2", "n1", "hello a"))).toEqual({ ok: true });
    await eventually(() => expect(b.inbox).toHaveLength(1));
    await eventually(() => expect(a.inbox).toHaveLength(1));
    expect(b.inbox[0]).toEqual({
      envelope: tell("n1", "n2", { hello: "b", n: [1, 2, 3] }),
      from: "n1",
      // a plaintext mesh: only the token handshake vouches, no certificate names the peer
      identity: tokenIdentity("n1"),
    });
    expect(a.inbox[0]).toEqual({
      envelope: tell("n2", "n1", "hello a"),
      from: "n2",
      identity: tokenIdentity("n2"),
    });
    expect(a.mesh.linkStates().n2).toMatchObject({ sentFrames: 1, receivedFrames: 1 });
  });

  it("refuses to send to itself, to unknown peers, and from another node's address", async () => {
    const a = await cluster.start("n1");
    expect(a.mesh.send(tell("n1", "n1", 1))).toMatchObject({ ok: false });
    expect(a.mesh.send(tell("n1", "n7", 1))).toEqual({ ok: false, error: "unknown peer n7" });
    a.mesh.addPeer("n2", "127.0.0.1:1");
    expect(a.mesh.send(tell("n3", "n2", 1))).toMatchObject({ ok: false });
  });

  it("queues while the peer is not yet reachable and flushes in order on connect", async () => {
    const a = await cluster.start("n1");
    const b = await cluster.start("n2");
    a.mesh.addPeer("n2", b.address); // b does not know n1 yet: handshakes are refused
    for (let i = 0; i < 50; i++) expect(a.mesh.send(tell("n1", "n2", i))).toEqual({ ok: true });
    await eventually(() => expect(a.mesh.linkStates().n2?.attempts).toBeGreaterThan(0));
    expect(b.inbox).toHaveLength(0);
    b.mesh.addPeer("n1", a.address);
    await connected(a, b);
    await eventually(() => expect(b.inbox).toHaveLength(50));
    expect(b.inbox.map((m) => m.envelope.body)).toEqual([...Array(50).keys()]);
  });

  it("serves plain HTTP on the same port", async () => {
    const a = await cluster.start("n1");
    const res = await fetch(`http://${a.address}/healthz`);
    expect(res.status).toBe(404); // no handler given: the mesh answers, it does not hang
  });
});
