import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, eventually, TOKEN, tell } from "./mesh-harness.ts";
import { rawHandshake } from "./raw-peer.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

describe("mesh: dead peers and slow readers", () => {
  it("closes a connected link whose peer stops answering pings", async () => {
    const n5 = await cluster.start("n5", { limits: { pingIntervalMs: 50 } });
    n5.mesh.addPeer("n1", "127.0.0.1:1");
    // A peer whose process is wedged: the socket stays open but pings go unanswered.
    const raw = await rawHandshake(n5.address, "n1", "n5", TOKEN, { autoPong: false });
    expect(await raw.authenticated).toBe(true);
    await raw.closed;
    await eventually(() =>
      expect(n5.mesh.linkStates().n1).toMatchObject({
        state: "disconnected",
        lastError: "dead peer: no pong within 50 ms",
      }),
    );
  });

  it("refuses sends once a connected peer that stopped reading has maxQueuedBytesPerPeer buffered", async () => {
    const limits = { maxFrameBytes: 64 * 1024, maxQueuedBytesPerPeer: 256 * 1024 };
    const n5 = await cluster.start("n5", { limits });
    n5.mesh.addPeer("n1", "127.0.0.1:1");
    const raw = await rawHandshake(n5.address, "n1", "n5", TOKEN);
    expect(await raw.authenticated).toBe(true);
    await eventually(() => expect(n5.mesh.linkStates().n1?.state).toBe("connected"));
    raw.ws.pause(); // stop reading: TCP windows fill, then ws's buffer
    const body = "z".repeat(60 * 1024);
    let refusal: string | undefined;
    let sent = 0;
    for (; refusal === undefined && sent < 4096; sent++) {
      const result = n5.mesh.send(tell("n5", "n1", body));
      if (!result.ok) refusal = result.error;
      await null; // a sender that yields lets each turn's batch reach the socket
    }
    expect(refusal).toBe(`queue full for peer n1 (${256 * 1024} bytes)`);
    const status = n5.mesh.linkStates().n1!;
    expect(status.bufferedBytes).toBeGreaterThan(0);
    expect(status.bufferedBytes + status.queuedBytes).toBeLessThanOrEqual(256 * 1024);
    raw.ws.resume();
    // Once the reader drains, sends are accepted again.
    await eventually(() => expect(n5.mesh.send(tell("n5", "n1", "again"))).toEqual({ ok: true }));
  });

  it("a dialer whose peer accepts TCP but never answers times out the handshake and backs off", async () => {
    const sockets: Socket[] = [];
    const blackHole: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    try {
      const address = blackHole.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      const n1 = await cluster.start("n1", { limits: { handshakeTimeoutMs: 100 } });
      n1.mesh.addPeer("n2", `127.0.0.1:${port}`);
      await eventually(() =>
        expect(n1.mesh.linkStates().n2).toMatchObject({ lastError: "handshake timeout" }),
      );
      expect(n1.mesh.linkStates().n2?.attempts).toBeGreaterThanOrEqual(1);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      await cluster.stopAll(); // no redial may race the black hole's close
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });
});
