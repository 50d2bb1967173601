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
    expect(admitFrame(frame(env), link)).toEqual({ ok: true, envelope: env });
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
