/**
 * Which client sessions the leader expires, by its own monotonic clock (etcd's lessor does the
 * same for leases: the primary lessor alone decides expiry, from its monotonic time, and a new
 * primary starts every lease afresh).
 *
 * Entry stamps are the proposing member's wall clock. Were expiry driven by them, as the session
 * table alone would do it, one member whose wall clock stepped an hour ahead would expire every
 * session of every other member at its next write, and each of their next writes would fail
 * with "fate unknown". Here a session is idle while its last seq stays the same, measured from
 * when this leader first saw that seq; a new leader sees every session for the first time, so a
 * session never expires sooner than its TTL after a leader change, only later (the election's
 * time is not counted), which costs a little memory and nothing else.
 */
export class SessionExpiry {
  /** Per session: the last seq seen, and when (monotonic ms) this leader first saw it. */
  private readonly seen = new Map<number, { seq: number; sinceMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxPerProposal: number,
  ) {}

  /**
   * Takes the store's sessions as they are now, and returns the [clientId, lastSeq] pairs that
   * have been idle for the TTL (at most `maxPerProposal`, longest idle first): what to propose.
   */
  due(sessions: readonly (readonly [number, number])[], nowMs: number): [number, number][] {
    const live = new Set<number>();
    const due: [number, number, number][] = [];
    for (const [id, seq] of sessions) {
      live.add(id);
      const was = this.seen.get(id);
      if (was === undefined || was.seq !== seq) {
        this.seen.set(id, { seq, sinceMs: nowMs });
        continue;
      }
      if (nowMs - was.sinceMs >= this.ttlMs) due.push([id, seq, was.sinceMs]);
    }
    for (const id of this.seen.keys()) if (!live.has(id)) this.seen.delete(id);
    due.sort((a, b) => a[2] - b[2]);
    return due.slice(0, this.maxPerProposal).map(([id, seq]) => [id, seq]);
  }

  /** Leadership lost or changed: the next leader term measures every session afresh. */
  reset(): void {
    this.seen.clear();
  }
}
