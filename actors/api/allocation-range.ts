/**
 * The ranges Services draw from, as ranges of integers: ClusterIPs (IPv4 addresses as 32-bit
 * numbers, from a CIDR) and NodePorts. `pickFree` scans from an offset, wrapping around, for the
 * first value nobody uses (Kubernetes' allocators pick at random, then scan; a random offset
 * does the same). Pure.
 */

/** Inclusive bounds. */
export interface IntRange {
  first: number;
  last: number;
}

export function rangeSize(range: IntRange): number {
  return range.last - range.first + 1;
}

export function inRange(range: IntRange, value: number): boolean {
  return value >= range.first && value <= range.last;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `a.b.c.d` as a number, or null if it is not a dotted IPv4 address. */
export function ipv4ToNumber(ip: string): number | null {
  const m = IPV4.exec(ip);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

export function numberToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * The allocatable addresses of an IPv4 CIDR: all but the network and broadcast addresses, as
 * Kubernetes' ClusterIP allocator leaves them out. Throws on a malformed CIDR (a configuration
 * error, found at startup).
 */
export function cidrRange(cidr: string): IntRange {
  const slash = cidr.indexOf("/");
  const base = ipv4ToNumber(slash < 0 ? "" : cidr.slice(0, slash));
  const bits = Number(cidr.slice(slash + 1));
  if (base === null || !Number.isInteger(bits) || bits < 1 || bits > 30)
    throw new Error(`not an IPv4 CIDR with room for addresses: ${cidr}`);
  const size = 2 ** (32 - bits);
  const network = base - (base % size);
  return { first: network + 1, last: network + size - 2 };
}

/**
 * The first value of `range` not in `used`, scanning from `range.first + offset` and wrapping
 * around; null when every value is used.
 */
export function pickFree(
  range: IntRange,
  used: ReadonlySet<number>,
  offset: number,
): number | null {
  const size = rangeSize(range);
  const start = ((offset % size) + size) % size;
  for (let i = 0; i < size; i++) {
    const candidate = range.first + ((start + i) % size);
    if (!used.has(candidate)) return candidate;
  }
  return null;
}
