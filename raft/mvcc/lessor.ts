/**
 * Leases (etcd's lessor): a lease has a TTL and an absolute expiry in the leader's clock, as
 * carried by commands; keys attached to it are deleted when it is revoked or expires. The table
 * is pure: expiry is decided by `leaseExpire` commands the leader proposes from `due(nowMs)`.
 */
import type { KeyString } from "./key-range.ts";

export interface Lease {
  id: number;
  ttlMs: number;
  expiryMs: number;
  keys: Set<KeyString>;
}

export class Lessor {
  private readonly leases = new Map<number, Lease>();

  get size(): number {
    return this.leases.size;
  }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  has(id: number): boolean {
    return this.leases.has(id);
  }

  ids(): number[] {
    return [...this.leases.keys()].sort((a, b) => a - b);
  }

  grant(id: number, ttlMs: number, expiryMs: number): Lease {
    if (this.leases.has(id)) throw new Error(`mvcc lessor: lease ${id} granted twice`);
    const lease: Lease = { id, ttlMs, expiryMs, keys: new Set() };
    this.leases.set(id, lease);
    return lease;
  }

  /** Removes the lease; returns its keys (the caller deletes them). */
  revoke(id: number): KeyString[] {
    const lease = this.leases.get(id);
    if (lease === undefined) return [];
    this.leases.delete(id);
    return [...lease.keys].sort();
  }

  attach(id: number, key: KeyString): void {
    if (id === 0) return;
    const lease = this.leases.get(id);
    if (lease === undefined) throw new Error(`mvcc lessor: attach to missing lease ${id}`);
    lease.keys.add(key);
  }

  detach(id: number, key: KeyString): void {
    if (id !== 0) this.leases.get(id)?.keys.delete(key);
  }

  /** Leases whose expiry is at or before nowMs, earliest first (ties by id), at most `max`. */
  due(nowMs: number, max: number): number[] {
    const due: Lease[] = [];
    for (const lease of this.leases.values()) if (lease.expiryMs <= nowMs) due.push(lease);
    due.sort((a, b) => a.expiryMs - b.expiryMs || a.id - b.id);
    return due.slice(0, max).map((l) => l.id);
  }
}
