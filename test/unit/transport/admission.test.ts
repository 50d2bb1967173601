import { describe, expect, it } from "vitest";
import { admitFrame } from "../../../transport/admission.ts";
import { encodeEnvelope, encodeValue } from "../../../transport/codec.ts";
import type { Envelope } from "../../../transport/envelope.ts";

const link = { peerId: "n1", nodeId: "n2", maxFrameBytes: 1024 };

function frame(env: Envelope): Uint8Array {
  const e = encodeEnvelope(env, 1 << 20);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
}

describe("admission of frames from an authenticated peer", () => {
  it("admits an envelope from the peer's actors to ours", () => {
    const env: Envelope = { from: "n1/raft", to: "n2/raft", kind: "append", body: [1] };
    const admitted = admitFrame(frame(env), link);
    expect(admitted.ok && admitted.items.map((i) => i.envelope)).toEqual([env]);
  });

  it("admits a batch of envelopes in one frame, and refuses the whole frame if one is bad", () => {
    const a: Envelope = { from: "n1/raft", to: "n2/raft", kind: "append", body: [1] };
    const b: Envelope = { from: "n1/kv", to: "n2/kv", kind: "put", body: { k: "x" } };
    const both = Buffer.concat([frame(a), frame(b)]);
    const admitted = admitFrame(both, link);
    expect(admitted.ok && admitted.items.map((i) => i.envelope)).toEqual([a, b]);
    const spoofed: Envelope = { from: "n3/kv", to: "n2/kv", kind: "put", body: null };
    expect(admitFrame(Buffer.concat([frame(a), frame(spoofed)]), link)).toMatchObject({
      ok: false,
      code: 1008,
    });
    expect(admitFrame(Buffer.concat([frame(a), frame(b).subarray(0, 5)]), link)).toMatchObject({
      ok: false,
      code: 1002,
    });
  });

  it("closes with 1008 on a spoofed sender", () => {
    const env: Envelope = { from: "n3/raft", to: "n2/raft", kind: "vote", body: true };
    expect(admitFrame(frame(env), link)).toEqual({
      ok: false,
      code: 1008,
      reason: "spoofed sender n3/raft",
    });
  });

  it("closes with 1002 on an envelope for another node (the mesh does not forward)", () => {
    const env: Envelope = { from: "n1/raft", to: "n3/raft", kind: "vote", body: true };
    expect(admitFrame(frame(env), link)).toMatchObject({ ok: false, code: 1002 });
  });

  it("closes with 1002 on malformed frames and 1009 on frames past maxFrameBytes", () => {
    expect(admitFrame(new Uint8Array([0xc1]), link)).toMatchObject({ ok: false, code: 1002 });
    const wrongShape = encodeValue({ hs: "answer" }, 1024);
    expect(wrongShape.ok && admitFrame(wrongShape.bytes, link)).toMatchObject({
      ok: false,
      code: 1002,
    });
    const big = frame({ from: "n1/a", to: "n2/b", kind: "k", body: "z".repeat(2000) });
    expect(admitFrame(big, link)).toMatchObject({ ok: false, code: 1009 });
  });
});
