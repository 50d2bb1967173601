import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { encodeEnvelope, encodeValue } from "../../../transport/codec.ts";
import { Cluster, connected, eventually, type TestNode, TOKEN, tell } from "./mesh-harness.ts";
import { type Closed, rawHandshake } from "./raw-peer.ts";

/**
 * A raw client authenticates as n1 (a real member, so it passes the handshake), then misbehaves.
 * n5 must close that socket with a reason and keep its link to n6 (a real mesh) serving.
 */
const MAX_FRAME = 64 * 1024;
const limits = { maxFrameBytes: MAX_FRAME, maxQueuedBytesPerPeer: 256 * 1024 };

type Bad = { kind: string; send: (ws: WebSocket) => void; codes: number[] };

const valid = (): Uint8Array => {
  const e = encodeEnvelope(tell("n1", "n5", { some: ["valid", "body"] }));
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
};

const badInput: fc.Arbitrary<Bad> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 256 }).map((bytes) => ({
    kind: "random bytes",
    send: (ws: WebSocket) => ws.send(bytes),
    codes: [1002],
  })),
  fc.nat().map((cut) => ({
    kind: "truncated msgpack",
    send: (ws: WebSocket) => {
      const bytes = valid();
      ws.send(bytes.subarray(0, 1 + (cut % (bytes.length - 1))));
    },
    codes: [1002],
  })),
  fc.anything().map((value) => ({
    kind: "msgpack of the wrong shape",
    send: (ws: WebSocket) => {
      const e = encodeValue(value, MAX_FRAME);
      ws.send(e.ok ? e.bytes : Buffer.from([0xc1]));
    },
    codes: [1002],
  })),
  fc.string().map((extra) => ({
    kind: "unknown envelope field",
    send: (ws: WebSocket) => {
      const e = encodeValue({ ...tell("n1", "n5", 1), [`x${extra}`]: 1 }, MAX_FRAME);
      if (e.ok) ws.send(e.bytes);
    },
    codes: [1002],
  })),
  fc.integer({ min: MAX_FRAME + 1, max: 4 * MAX_FRAME }).map((size) => ({
    kind: "oversized frame",
    send: (ws: WebSocket) => ws.send(Buffer.alloc(size, 0x91)),
    codes: [1009],
  })),
  fc.constant<Bad>({
    kind: "spoofed sender",
    send: (ws: WebSocket) => {
      const e = encodeEnvelope(tell("n6", "n5", "I am n6, honest"));
      if (e.ok) ws.send(e.bytes);
    },
    codes: [1008],
  }),
  fc.constant<Bad>({
    kind: "text frame",
    send: (ws: WebSocket) => ws.send("hello"),
    codes: [1002],
  }),
);

describe("mesh: bad input on one link closes only that socket", () => {
  const cluster = new Cluster();
  let n5: TestNode;
  let n6: TestNode;

  beforeAll(async () => {
    n5 = await cluster.start("n5", { limits });
    n6 = await cluster.start("n6", { limits });
    cluster.connect(n5, n6);
    n5.mesh.addPeer("n1", "127.0.0.1:1"); // the raw client's identity; n5 accepts from n1
    await connected(n5, n6);
  });
  afterAll(() => cluster.stopAll());

  it("closes with a code and a reason, logs it, and keeps serving n6 (property)", async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(badInput, async (bad) => {
        round++;
        const raw = await rawHandshake(n5.address, "n1", "n5", TOKEN);
        expect(await raw.authenticated).toBe(true);
        await eventually(() => expect(n5.mesh.linkStates().n1?.state).toBe("connected"));
        const warningsBefore = n5.logs.filter((l) => l.msg === "closing link: bad input").length;
        bad.send(raw.ws);
        const closed: Closed = await raw.closed;
        expect(bad.codes, `${bad.kind}: ${JSON.stringify(closed)}`).toContain(closed.code);
        expect(closed.reason.length, bad.kind).toBeGreaterThan(0);
        if (bad.kind === "oversized frame")
          expect(closed.reason).toBe(`frame exceeds ${MAX_FRAME} bytes`);
        await eventually(() => expect(n5.mesh.linkStates().n1?.state).toBe("disconnected"));
        const warnings = n5.logs.filter((l) => l.msg === "closing link: bad input");
        expect(warnings.length).toBeGreaterThan(warningsBefore);
        expect(warnings.at(-1)).toMatchObject({ level: 40, peer: "n1" });
        expect(warnings.at(-1)?.reason).toEqual(expect.any(String));
        // The other link never noticed.
        expect(n5.mesh.send(tell("n5", "n6", round))).toEqual({ ok: true });
        expect(n6.mesh.send(tell("n6", "n5", round))).toEqual({ ok: true });
        await eventually(() => expect(n6.inbox.at(-1)?.envelope.body).toBe(round));
        await eventually(() => expect(n5.inbox.at(-1)?.envelope.body).toBe(round));
      }),
      { numRuns: 25 },
    );
    expect(n5.inbox.every((m) => m.from === "n6")).toBe(true);
    expect(n5.mesh.linkStates().n1?.badInputCloses).toBe(25);
    expect(n5.mesh.linkStates().n6).toMatchObject({ state: "connected", connects: 1 });
  });

  it("closes a socket that sends an envelope before the handshake with 1002", async () => {
    const { rawSocket } = await import("./raw-peer.ts");
    const raw = await rawSocket(n5.address);
    raw.ws.send(valid());
    expect(await raw.closed).toEqual({ code: 1002, reason: "expected handshake answer" });
  });
});

describe("mesh: an inbound flood past the queue limit", () => {
  const cluster = new Cluster();
  afterEach(() => cluster.stopAll());

  it("closes the flooding socket with 1008 when delayed frames exceed maxQueuedBytesPerPeer", async () => {
    const n5 = await cluster.start("n5", { limits, faultsEnabled: true });
    n5.mesh.addPeer("n1", "127.0.0.1:1");
    n5.mesh.setFaultRules([{ type: "delay", ms: 60_000, peer: "n1", direction: "in" }]);
    const raw = await rawHandshake(n5.address, "n1", "n5", TOKEN);
    expect(await raw.authenticated).toBe(true);
    const e = encodeEnvelope(tell("n1", "n5", "y".repeat(MAX_FRAME - 200)));
    if (!e.ok) throw new Error(e.reason);
    for (let i = 0; i < 8; i++) raw.ws.send(e.bytes);
    const closed = await raw.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/^inbound flood/);
    expect(n5.inbox).toHaveLength(0);
  });
});
