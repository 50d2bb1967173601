import { afterEach, describe, expect, it } from "vitest";
import { Cluster, connected, eventually, tell } from "./mesh-harness.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

// Small limits so that "past the limit" takes a few dozen frames, not 16 MiB.
const limits = { maxFrameBytes: 16 * 1024, maxQueuedBytesPerPeer: 64 * 1024 };
const payload = "x".repeat(1000);

describe("mesh: a peer restarts on the same port", () => {
  it("backs off, reconnects, delivers the frames queued within limits exactly once", async () => {
    const a = await cluster.start("n1", { limits });
    const b = await cluster.start("n2", { limits });
    cluster.connect(a, b);
    await connected(a, b);
    const seen: string[] = [];
    a.mesh.linkActors().n2!.subscribe((s) => {
      if (seen.at(-1) !== s.value) seen.push(String(s.value));
    });

    await b.mesh.stop();
    await eventually(() => expect(a.mesh.linkStates().n2?.attempts).toBeGreaterThanOrEqual(3));
    const down = a.mesh.linkStates().n2!;
    expect(down.state).not.toBe("connected");
    expect(down.lastError).toMatch(/ECONNREFUSED/);

    // Queue while the peer is down until the limit refuses a frame.
    const accepted: number[] = [];
    let refusal: string | undefined;
    for (let i = 0; refusal === undefined && i < 1000; i++) {
      const result = a.mesh.send(tell("n1", "n2", { i, payload }));
      if (result.ok) accepted.push(i);
      else refusal = result.error;
    }
    expect(refusal).toBe(`queue full for peer n2 (${64 * 1024} bytes)`);
    expect(accepted.length).toBeGreaterThan(10);
    expect(a.mesh.linkStates().n2!.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(a.mesh.linkStates().n2!.rejectedSends).toBe(1);

    const b2 = await cluster.start("n2", { port: b.port, limits, peers: { n1: a.address } });
    await connected(a, b2);
    await eventually(() => expect(b2.inbox.length).toBeGreaterThanOrEqual(accepted.length));
    // Exactly once, in order: then a marker sent after proves nothing more was in flight.
    expect(a.mesh.send(tell("n1", "n2", "marker"))).toEqual({ ok: true });
    await eventually(() => expect(b2.inbox.at(-1)?.envelope.body).toBe("marker"));
    const bodies = b2.inbox.slice(0, -1).map((m) => (m.envelope.body as { i: number }).i);
    expect(bodies).toEqual(accepted);
    expect(a.mesh.linkStates().n2).toMatchObject({ queuedBytes: 0, queuedFrames: 0, attempts: 0 });
    expect(seen).toEqual(
      expect.arrayContaining(["backoff", "connecting", "handshaking", "connected"]),
    );
    expect(seen.indexOf("backoff")).toBeLessThan(seen.lastIndexOf("connected"));
  });

  it("the acceptor side goes back to disconnected and is redialed when the dialer restarts", async () => {
    const a = await cluster.start("n1");
    const b = await cluster.start("n2");
    cluster.connect(a, b);
    await connected(a, b);
    await a.mesh.stop();
    await eventually(() => expect(b.mesh.linkStates().n1?.state).toBe("disconnected"));
    expect(b.mesh.linkStates().n1?.lastError).toBe("closed 1001: node stopping");
    expect(b.mesh.send(tell("n2", "n1", "while you were out"))).toEqual({ ok: true });
    const a2 = await cluster.start("n1", { port: a.port, peers: { n2: b.address } });
    await connected(a2, b);
    await eventually(() =>
      expect(a2.inbox.map((m) => m.envelope.body)).toEqual(["while you were out"]),
    );
  });

  it("stop() is idempotent and leaves no timer of ours behind", async () => {
    const a = await cluster.start("n1");
    const b = await cluster.start("n2");
    cluster.connect(a, b);
    await connected(a, b);
    a.mesh.addPeer("n3", "127.0.0.1:1"); // a dialer in backoff: its retry timer must go too
    await eventually(() => expect(a.mesh.linkStates().n3?.attempts).toBeGreaterThan(0));
    await Promise.all([a.mesh.stop(), a.mesh.stop(), b.mesh.stop()]);
    await a.mesh.stop();
    expect(cluster.clock.pending()).toBe(0);
    expect(a.mesh.send(tell("n1", "n2", 1))).toMatchObject({ ok: false });
  });
});
