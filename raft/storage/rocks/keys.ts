/**
 * Key encodings for RocksDB, whose keys sort bytewise. A number is written as a big-endian
 * unsigned 64-bit integer (8 bytes) so that iteration order equals numeric order; a one-byte
 * ASCII prefix names the key space ("L" log entries, "H" hard state, ...), so a prefix scan is a
 * range [prefix, prefixEnd(prefix)).
 */

/** The largest index a key can hold exactly: JavaScript numbers are exact up to 2^53 - 1. */
export const maxKeyIndex = Number.MAX_SAFE_INTEGER;

/** Encodes a non-negative safe integer as 8 big-endian bytes. */
export function encodeU64(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`keys: ${n} is not a non-negative safe integer`);
  }
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64BE(BigInt(n), 0);
  return out;
}

/** Decodes 8 big-endian bytes at `offset`; throws if the value is beyond 2^53 - 1. */
export function decodeU64(buf: Uint8Array, offset = 0): number {
  if (buf.length < offset + 8) {
    throw new RangeError(`keys: need 8 bytes at offset ${offset}, have ${buf.length - offset}`);
  }
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.readBigUInt64BE(offset);
  if (n > BigInt(maxKeyIndex)) throw new RangeError(`keys: ${n} exceeds 2^53 - 1`);
  return Number(n);
}

/** `prefix` followed by the u64 encoding of `n`: sorts by prefix, then numerically by n. */
export function prefixedU64(prefix: string | Buffer, n: number): Buffer {
  const p = typeof prefix === "string" ? Buffer.from(prefix, "latin1") : prefix;
  return Buffer.concat([p, encodeU64(n)]);
}

/** The number in a key made by prefixedU64 with a prefix of `prefixBytes` bytes. */
export function decodePrefixedU64(key: Uint8Array, prefixBytes: number): number {
  if (key.length !== prefixBytes + 8) {
    throw new RangeError(`keys: expected a ${prefixBytes + 8}-byte key, got ${key.length}`);
  }
  return decodeU64(key, prefixBytes);
}

/**
 * The smallest key greater than every key that starts with `prefix` (for `lt` in a prefix
 * scan). Throws for a prefix of only 0xff bytes, which has no such bound.
 */
export function prefixEnd(prefix: string | Buffer): Buffer {
  const p = Buffer.from(typeof prefix === "string" ? Buffer.from(prefix, "latin1") : prefix);
  for (let i = p.length - 1; i >= 0; i--) {
    if (p[i]! < 0xff) {
      p[i] = p[i]! + 1;
      return p.subarray(0, i + 1);
    }
  }
  throw new RangeError("keys: a prefix of only 0xff bytes has no upper bound");
}
