import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeEnvelope, encodeValue } from "../../../transport/codec.ts";
import type { Envelope } from "../../../transport/envelope.ts";

const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/);
const address = fc
  .tuple(name, fc.stringMatching(/^[A-Za-z0-9_.:-]{1,32}$/))
  .map(([n, a]) => `${n}/${a}`);

/**
 * Bodies msgpack carries faithfully. -0 is excluded (msgpack has no negative zero int, so it
 * comes back as 0) and binary is a Buffer (what msgpack bin decodes to).
 */
const body: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: false }).filter((d) => !Object.is(d, -0)),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((k) => k !== "__proto__"),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

const envelope: fc.Arbitrary<Envelope> = fc.record(
  {
    to: address,
    from: address,
    kind: fc.string({ minLength: 1, maxLength: 128 }),
    id: fc.string({ maxLength: 128 }),
    replyTo: fc.string({ maxLength: 128 }),
    body,
  },
  { requiredKeys: ["to", "from", "kind", "body"] },
);

describe("codec properties", () => {
  it("decode(encode(envelope)) is the envelope, for arbitrary bodies", () => {
    fc.assert(
      fc.property(envelope, (env) => {
        const encoded = encodeEnvelope(env);
        expect(encoded.ok).toBe(true);
        if (!encoded.ok) return;
        expect(decodeFrame(encoded.bytes)).toEqual({ ok: true, envelope: env });
      }),
      { numRuns: 500 },
    );
  });

  it("decodeFrame never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const result = decodeFrame(bytes);
        expect(typeof result.ok).toBe("boolean");
        if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("decodeFrame never throws on truncations or corruptions of valid frames", () => {
    fc.assert(
      fc.property(
        envelope,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (env, cut, at, byte) => {
          const encoded = encodeEnvelope(env);
          if (!encoded.ok) return;
          const bytes = encoded.bytes;
          const truncated = bytes.subarray(0, cut % bytes.length);
          expect(decodeFrame(truncated).ok).toBe(false); // a strict prefix is never a whole frame
          const corrupted = Buffer.from(bytes);
          corrupted[at % corrupted.length] = byte;
          const result = decodeFrame(corrupted);
          if (result.ok) expect(result.envelope).toBeTypeOf("object");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("decodeFrame rejects valid msgpack of any other shape with a reason", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const encoded = encodeValue(value, 1 << 20);
        if (!encoded.ok) return;
        const result = decodeFrame(encoded.bytes);
        if (!result.ok) expect(result.reason).toMatch(/\S/);
      }),
      { numRuns: 500 },
    );
  });
});
