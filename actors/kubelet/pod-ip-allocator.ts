/**
 * Pod IPs: every pod gets its own loopback address (127.x.y.z), so two pods can listen on the
 * same port on one machine, as they can on separate network namespaces. The default range is
 * 127.200.0.0/16 (network and broadcast addresses skipped); addresses the servers use are
 * reserved up front. Each kubelet on one machine should get its own range (a podCIDR).
 */
export class PodIpAllocator {
  private readonly base: number;
  private readonly size: number;
  private readonly inUse = new Set<number>();
  private readonly reserved = new Set<number>();
  private next = 1;

  constructor(options: { cidr?: string; reserved?: string[] } = {}) {
    const [address = "", bits = ""] = (options.cidr ?? "127.200.0.0/16").split("/");
    const prefix = Number(bits);
    const start = ipToNumber(address);
    if (!address.startsWith("127.") || !(prefix >= 8 && prefix <= 30) || Number.isNaN(start))
      throw new Error(`pod CIDR must be a loopback range 127.0.0.0/8–/30, got ${options.cidr}`);
    this.size = 2 ** (32 - prefix);
    this.base = start - (start % this.size);
    for (const r of options.reserved ?? []) this.reserved.add(ipToNumber(r));
  }

  /** A free address, or throws when the range is exhausted. */
  allocate(): string {
    for (let i = 0; i < this.size; i++) {
      const offset = ((this.next - 1 + i) % (this.size - 2)) + 1;
      const ip = this.base + offset;
      if (this.inUse.has(ip) || this.reserved.has(ip)) continue;
      this.inUse.add(ip);
      this.next = offset + 1;
      return numberToIp(ip);
    }
    throw new Error(`pod IP range exhausted (${this.inUse.size} in use)`);
  }

  /** Marks an address taken (a pod found running after a restart). */
  claim(ip: string): boolean {
    const n = ipToNumber(ip);
    if (n < this.base || n >= this.base + this.size || this.inUse.has(n)) return false;
    this.inUse.add(n);
    return true;
  }

  release(ip: string): void {
    this.inUse.delete(ipToNumber(ip));
  }

  allocated(): number {
    return this.inUse.size;
  }
}

export function ipToNumber(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return Number.NaN;
  return (((parts[0]! * 256 + parts[1]!) * 256 + parts[2]!) * 256 + parts[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
