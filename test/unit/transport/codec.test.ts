import { describe, expect, it } from "vitest";
import { decodeFrame, encodeEnvelope, encodeValue } from "../../../transport/codec.ts";
import type { Envelope } from "../../../transport/envelope.ts";

// msgpack bin decodes as a Node Buffer (a Uint8Array subclass), so the fixture uses one.
const ask: Envelope = {
  to: "n2/scheduler",
  from: "n1/apiserver",
  kind: "bind",
  id: "ask-7",
  body: { pod: "web-0", node: "n3", labels: { app: "web" }, bytes: Buffer.from([1, 2, 3]) },
};

function encoded(env: Envelope): Uint8Array {
  const result = encodeEnvelope(env);
  if (!result.ok) throw new Error(result.reason);
  return result.bytes;
}

describe("codec: envelopes as msgpack frames", () => {
  it("round-trips an ask with a nested body and binary data", () => {
    expect(decodeFrame(encoded(ask))).toEqual({ ok: true, envelope: ask });
  });

  it("round-trips a reply and a tell", () => {
    const reply: Envelope = {
      to: "n1/apiserver",
      from: "n2/scheduler",
      kind: "bind.ok",
      replyTo: "ask-7",
      body: null,
    };
    const tellEnv: Envelope = { to: "n3/kubelet", from: "n1/raft", kind: "ping", body: [] };
    expect(decodeFrame(encoded(reply))).toEqual({ ok: true, envelope: reply });
    expect(decodeFrame(encoded(tellEnv))).toEqual({ ok: true, envelope: tellEnv });
  });

  it("encodes plain msgpack maps any peer can read (no msgpackr records)", () => {
    const bytes = encoded({ to: "n2/a", from: "n1/b", kind: "k", body: 1 });
    const first = bytes[0]!;
    expect((first & 0xf0) === 0x80 || first === 0xde || first === 0xdf).toBe(true); // a map
    expect(bytes.includes(0xd4) || bytes.includes(0xc7)).toBe(false); // no ext types
  });

  it("gives the receiver its own copy of binary data", () => {
    const bytes = Buffer.from(encoded(ask));
    const first = decodeFrame(bytes);
    bytes.fill(0);
    expect(first.ok && (first.envelope.body as { bytes: Uint8Array }).bytes).toEqual(
      Buffer.from([1, 2, 3]),
    );
  });

  it("names what is wrong instead of throwing", () => {
    expect(decodeFrame(new Uint8Array())).toEqual({ ok: false, reason: "empty frame" });
    expect(decodeFrame(new Uint8Array([0xc1, 0xff, 0x00]))).toMatchObject({ ok: false });
    const full = encoded(ask);
    expect(decodeFrame(full.subarray(0, full.length - 3))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^not msgpack/),
    });
    expect(decodeFrame(Buffer.concat([full, Buffer.from([0])]))).toMatchObject({ ok: false });
    const wrongShape = encodeValue([1, 2, 3], 1024);
    expect(wrongShape.ok && decodeFrame(wrongShape.bytes)).toEqual({
      ok: false,
      reason: "envelope is not a map",
    });
    const extra = encodeValue({ ...ask, sneaky: true }, 1024);
    expect(extra.ok && decodeFrame(extra.bytes)).toEqual({
      ok: false,
      reason: "unknown envelope field 'sneaky'",
    });
  });

  it("rejects frames over maxFrameBytes on both sides", () => {
    const big: Envelope = { ...ask, body: "x".repeat(2000) };
    expect(encodeEnvelope(big, 1000)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/exceeds 1000/),
    });
    expect(decodeFrame(encoded(big), 1000)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/exceeds 1000/),
    });
  });

  it("refuses to encode what msgpack cannot carry, without throwing", () => {
    expect(encodeEnvelope({ ...ask, body: 1n << 80n })).toMatchObject({ ok: false });
    expect(encodeEnvelope({ ...ask, to: "no-slash" })).toEqual({
      ok: false,
      reason: "bad 'to' address",
    });
  });
});
