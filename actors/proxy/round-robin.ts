/**
 * Endpoint selection for one service port (kube-proxy userspace's `LoadBalancerRR`): round robin
 * over the ready endpoints, with optional ClientIP session affinity. Pure: time comes in as
 * `nowMs`, so tests drive it with a fake clock.
 *
 * - Affinity: a client IP that picked an endpoint keeps it while it uses it at least once per
 *   `affinityTimeoutMs` and the endpoint stays ready; then it is balanced afresh.
 * - `skip` (endpoints whose dial just failed) makes the pick move on, and an affinity to a
 *   skipped endpoint is replaced (kube-proxy's `sessionAffinityReset`).
 * - New endpoints join the rotation where it stands; removed ones drop their affinities.
 * - Affinity entries are bounded (least recently used first out): a flood of client addresses
 *   costs balance, never memory.
 */

interface Affinity {
  endpoint: string;
  lastUsedMs: number;
}

export class RoundRobin {
  private endpoints: string[] = [];
  private next = 0;
  /** Client IP → affinity, least recently used first (Map insertion order). */
  private readonly affinities = new Map<string, Affinity>();

  constructor(
    private affinityTimeoutMs: number | null,
    private readonly maxAffinities: number,
  ) {}

  /** Replaces the ready endpoints (`ip:port`); order is kept stable by sorting. */
  setEndpoints(endpoints: string[]): void {
    const sorted = [...new Set(endpoints)].sort();
    const current = this.endpoints[this.next % Math.max(1, this.endpoints.length)];
    this.endpoints = sorted;
    // continue the rotation from where it was, if that endpoint is still there
    const at = current === undefined ? -1 : sorted.indexOf(current);
    this.next = Math.max(at, 0);
    const live = new Set(sorted);
    for (const [client, a] of this.affinities)
      if (!live.has(a.endpoint)) this.affinities.delete(client);
  }

  setAffinityTimeout(timeoutMs: number | null): void {
    if (timeoutMs === null) this.affinities.clear();
    this.affinityTimeoutMs = timeoutMs;
  }

  affinityTimeout(): number | null {
    return this.affinityTimeoutMs;
  }

  size(): number {
    return this.endpoints.length;
  }

  list(): readonly string[] {
    return this.endpoints;
  }

  affinityCount(): number {
    return this.affinities.size;
  }

  /** The endpoint for a new connection from `clientIP`, or null when none is left to try. */
  pick(clientIP: string, nowMs: number, skip?: ReadonlySet<string>): string | null {
    const timeout = this.affinityTimeoutMs;
    if (timeout !== null) {
      const held = this.affinities.get(clientIP);
      if (held !== undefined) {
        this.affinities.delete(clientIP);
        if (nowMs - held.lastUsedMs <= timeout && !skip?.has(held.endpoint)) {
          held.lastUsedMs = nowMs;
          this.affinities.set(clientIP, held);
          return held.endpoint;
        }
      }
    }
    const endpoint = this.rotate(skip);
    if (endpoint !== null && timeout !== null) this.remember(clientIP, endpoint, nowMs);
    return endpoint;
  }

  private rotate(skip?: ReadonlySet<string>): string | null {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const endpoint = this.endpoints[index]!;
      if (skip?.has(endpoint)) continue;
      this.next = (index + 1) % n;
      return endpoint;
    }
    return null;
  }

  private remember(clientIP: string, endpoint: string, nowMs: number): void {
    this.affinities.set(clientIP, { endpoint, lastUsedMs: nowMs });
    while (this.affinities.size > this.maxAffinities) {
      const oldest = this.affinities.keys().next().value as string;
      this.affinities.delete(oldest);
    }
  }
}
