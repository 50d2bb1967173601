/**
 * etcd's key range convention (rpc.proto RangeRequest): `rangeEnd` absent → the single key;
 * `rangeEnd` = "\0" → every key ≥ key; otherwise the half-open interval [key, rangeEnd).
 * key = "\0" with rangeEnd = "\0" is therefore every key. A rangeEnd ≤ key selects nothing.
 *
 * Internally keys are latin1 strings: latin1 maps each byte to one UTF-16 code unit 0–255, so
 * JavaScript's string order is exactly the bytewise order etcd (and RocksDB) use.
 */

/** A key as the store's in-memory index holds it (bytes as a latin1 string). */
export type KeyString = string;

export function keyString(bytes: Uint8Array): KeyString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export function keyBytes(key: KeyString): Buffer {
  return Buffer.from(key, "latin1");
}

/** Half-open interval [start, end); end undefined = unbounded above. */
export interface KeyInterval {
  start: KeyString;
  end: KeyString | undefined;
  single: boolean;
}

export function keyInterval(key: Uint8Array, rangeEnd?: Uint8Array): KeyInterval {
  const start = keyString(key);
  if (rangeEnd === undefined || rangeEnd.byteLength === 0) {
    return { start, end: undefined, single: true };
  }
  if (rangeEnd.byteLength === 1 && rangeEnd[0] === 0)
    return { start, end: undefined, single: false };
  return { start, end: keyString(rangeEnd), single: false };
}

export function intervalContains(interval: KeyInterval, key: KeyString): boolean {
  if (interval.single) return key === interval.start;
  return key >= interval.start && (interval.end === undefined || key < interval.end);
}

/** Whether two intervals share a key (etcd's checkIntervals for txn duplicate detection). */
export function intervalsOverlap(a: KeyInterval, b: KeyInterval): boolean {
  if (a.single) return intervalContains(b, a.start);
  if (b.single) return intervalContains(a, b.start);
  const aBelowB = a.end !== undefined && a.end <= b.start;
  const bBelowA = b.end !== undefined && b.end <= a.start;
  return !aBelowB && !bBelowA;
}

/**
 * The rangeEnd that selects every key with `prefix` (etcd's clientv3.GetPrefixRangeEnd): the
 * prefix with its last byte below 0xff incremented and the rest dropped; "\0" (all keys) when
 * the prefix is empty or only 0xff bytes.
 */
export function prefixRangeEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
