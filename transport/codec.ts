/**
 * msgpack framing of envelopes (DESIGN §4). One Packr for the process: `useRecords: false`
 * keeps frames plain msgpack maps any peer can read, and stops a frame from defining record
 * structures that would change how later frames decode; `copyBuffers` gives receivers their own
 * copy of binary fields (copy semantics, DESIGN §3).
 */
import { Packr } from "msgpackr";
import { checkEnvelope, type Envelope } from "./envelope.ts";
import { DEFAULT_TRANSPORT_LIMITS } from "./limits.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

export type EncodeResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: string };
export type ValueDecode = { ok: true; value: unknown } | { ok: false; reason: string };
export type FrameDecode = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Encodes any msgpack-able value; never throws (a BigInt past 64 bits or a symbol fails). */
export function encodeValue(value: unknown, maxFrameBytes: number): EncodeResult {
  let bytes: Uint8Array;
  try {
    bytes = packr.pack(value);
  } catch (err) {
    return { ok: false, reason: `cannot encode: ${errorMessage(err)}` };
  }
  if (bytes.length > maxFrameBytes) {
    return { ok: false, reason: `frame of ${bytes.length} bytes exceeds ${maxFrameBytes}` };
  }
  return { ok: true, bytes };
}

/** Decodes exactly one msgpack value filling `bytes`; never throws. */
export function decodeValue(bytes: Uint8Array, maxFrameBytes: number): ValueDecode {
  if (bytes.length > maxFrameBytes) {
    return { ok: false, reason: `frame of ${bytes.length} bytes exceeds ${maxFrameBytes}` };
  }
  if (bytes.length === 0) return { ok: false, reason: "empty frame" };
  try {
    // msgpackr rejects trailing bytes itself ("end of buffer not reached").
    return { ok: true, value: packr.unpack(bytes) };
  } catch (err) {
    return { ok: false, reason: `not msgpack: ${errorMessage(err)}` };
  }
}

export function encodeEnvelope(
  envelope: Envelope,
  maxFrameBytes = DEFAULT_TRANSPORT_LIMITS.maxFrameBytes,
): EncodeResult {
  const check = checkEnvelope(envelope);
  if (!check.ok) return check;
  return encodeValue(envelope, maxFrameBytes);
}

/** Bytes off the wire to a checked Envelope, or the reason they are not one. Never throws. */
export function decodeFrame(
  bytes: Uint8Array,
  maxFrameBytes = DEFAULT_TRANSPORT_LIMITS.maxFrameBytes,
): FrameDecode {
  const decoded = decodeValue(bytes, maxFrameBytes);
  if (!decoded.ok) return decoded;
  return checkEnvelope(decoded.value);
}

export interface DecodedItem {
  envelope: Envelope;
  /** The envelope's own bytes within the frame, for a fault rule that duplicates it. */
  bytes: Uint8Array;
}
export type BatchDecode = { ok: true; items: DecodedItem[] } | { ok: false; reason: string };

/**
 * A frame is one or more msgpack-encoded envelopes back to back (the sender batches what it
 * sends in one turn). Every envelope is checked before any is accepted, so a bad frame is
 * refused whole. Never throws.
 */
export function decodeBatch(bytes: Uint8Array, maxFrameBytes: number): BatchDecode {
  if (bytes.length > maxFrameBytes) {
    return { ok: false, reason: `frame of ${bytes.length} bytes exceeds ${maxFrameBytes}` };
  }
  if (bytes.length === 0) return { ok: false, reason: "empty frame" };
  const items: DecodedItem[] = [];
  let failure: string | undefined;
  try {
    packr.unpackMultiple(bytes as Buffer, (value: unknown, start?: number, end?: number) => {
      const check = checkEnvelope(value);
      if (!check.ok) {
        failure = check.reason;
        return false;
      }
      items.push({
        envelope: check.envelope,
        bytes: bytes.subarray(start ?? 0, end ?? bytes.length),
      });
      return true;
    });
  } catch (err) {
    return { ok: false, reason: `not msgpack: ${errorMessage(err)}` };
  }
  if (failure !== undefined) return { ok: false, reason: failure };
  return { ok: true, items };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
