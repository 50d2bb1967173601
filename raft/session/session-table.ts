/**
 * Client sessions for exactly-once application of retried commands (Raft dissertation §6.3).
 *
 * A client first registers; the session id is the log index of its register entry, so a retried
 * register yields a fresh, unused session and never revives an old one. Every later command
 * carries (sessionId, seq), seq = 1, 2, 3, ... with at most one command outstanding per session.
 * The table lives in the replicated state machine, so every replica makes the same decisions:
 * - seq = lastSeq + 1: apply the command and cache its response;
 * - seq = lastSeq: a retry of the last command: answer from the cache, do not apply again;
 * - seq < lastSeq: a stale duplicate whose client has moved on: ignore it;
 * - seq > lastSeq + 1: impossible for a well-behaved client: rejected as a protocol error;
 * - unknown session: it expired (or never existed): refused, so the client knows its command's
 *   fate is unknown rather than risking a second application.
 *
 * Expiry is deterministic. The table can expire by time, where time is the largest entry
 * timestamp this state machine has applied, never the replica's own clock, and sessions idle for
 * longer than `sessionTtlMs` are dropped (the simulator's state machine runs it so). The MVCC
 * store turns that off: its stamps are the proposer's wall clock, one member whose clock steps
 * ahead would expire everyone's sessions. There the leader names idle sessions, by its own
 * monotonic time, in an `expireSessions` entry (`expire`). Either way the table is bounded by
 * `maxSessions`: when a registration would exceed it, the least recently active session is
 * evicted.
 */

export interface SessionLimits {
  /** Most sessions kept at once; the least recently active one is evicted beyond this. */
  maxSessions: number;
  /** A session idle (by entry timestamps) for longer than this expires. */
  sessionTtlMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxSessions: 10_000,
  sessionTtlMs: 10 * 60 * 1000,
};

export type SessionId = number;

export type SessionOutcome<R> =
  | { status: "applied"; result: R }
  | { status: "duplicate"; result: R }
  | { status: "stale" }
  | { status: "sessionExpired" }
  | { status: "outOfOrder"; expectedSeq: number };

interface Session<R> {
  lastSeq: number;
  lastResult: R | undefined;
  lastActiveMs: number;
}

export interface SessionTableSnapshot<R> {
  nowMs: number;
  /** In least-recently-active-first order. */
  sessions: [SessionId, { lastSeq: number; lastResult: R | undefined; lastActiveMs: number }][];
}

export class SessionTable<R> {
  // Map iteration order is insertion order; a touched session is re-inserted, so the first
  // entry is always the least recently active one (time only moves forward, see `advanceTo`).
  private readonly sessions = new Map<SessionId, Session<R>>();
  private nowMs = 0;

  constructor(private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    if (!(limits.maxSessions > 0)) throw new RangeError("session table: maxSessions must be > 0");
    if (!(limits.sessionTtlMs > 0)) throw new RangeError("session table: sessionTtlMs must be > 0");
  }

  get size(): number {
    return this.sessions.size;
  }

  has(id: SessionId): boolean {
    return this.sessions.has(id);
  }

  /** Opens a session; `entryIndex` (the register entry's log index) becomes its id. */
  register(entryIndex: number, entryTimeMs: number): SessionId {
    this.advanceTo(entryTimeMs);
    if (this.sessions.has(entryIndex)) {
      throw new Error(`session table: entry ${entryIndex} registered twice`);
    }
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next().value as SessionId;
      this.sessions.delete(oldest);
    }
    this.sessions.set(entryIndex, { lastSeq: 0, lastResult: undefined, lastActiveMs: this.nowMs });
    return entryIndex;
  }

  /** Applies `execute` at most once per (session, seq); see the class comment for the rules. */
  apply(
    sessionId: SessionId,
    seq: number,
    entryTimeMs: number,
    execute: () => R,
  ): SessionOutcome<R> {
    this.advanceTo(entryTimeMs);
    const session = this.sessions.get(sessionId);
    if (session === undefined) return { status: "sessionExpired" };
    if (seq < session.lastSeq) return { status: "stale" };
    if (seq === session.lastSeq) {
      this.touch(sessionId, session);
      return { status: "duplicate", result: session.lastResult as R };
    }
    if (seq !== session.lastSeq + 1)
      return { status: "outOfOrder", expectedSeq: session.lastSeq + 1 };
    const result = execute();
    session.lastSeq = seq;
    session.lastResult = result;
    this.touch(sessionId, session);
    return { status: "applied", result };
  }

  /**
   * Drops each listed session whose last seq is still the one given: the leader saw it idle at
   * that seq for a TTL of its own monotonic time (raft/replica/session-expiry.ts); a command
   * applied since then moved its seq, and it stays. Returns the ids dropped.
   */
  expire(candidates: readonly (readonly [SessionId, number])[]): SessionId[] {
    const dropped: SessionId[] = [];
    for (const [id, lastSeq] of candidates) {
      if (this.sessions.get(id)?.lastSeq !== lastSeq) continue;
      this.sessions.delete(id);
      dropped.push(id);
    }
    return dropped;
  }

  /** Every session and its last seq, least recently active first. */
  lastSeqs(): [SessionId, number][] {
    return [...this.sessions].map(([id, s]) => [id, s.lastSeq]);
  }

  /** The highest seq applied for a session, or undefined if there is no such session. */
  lastAppliedSeq(sessionId: SessionId): number | undefined {
    return this.sessions.get(sessionId)?.lastSeq;
  }

  snapshot(): SessionTableSnapshot<R> {
    return {
      nowMs: this.nowMs,
      sessions: [...this.sessions].map(([id, s]) => [id, { ...s }]),
    };
  }

  static restore<R>(snapshot: SessionTableSnapshot<R>, limits?: SessionLimits): SessionTable<R> {
    const table = new SessionTable<R>(limits);
    table.nowMs = snapshot.nowMs;
    for (const [id, s] of snapshot.sessions) table.sessions.set(id, { ...s });
    return table;
  }

  private touch(id: SessionId, session: Session<R>): void {
    session.lastActiveMs = this.nowMs;
    this.sessions.delete(id);
    this.sessions.set(id, session);
  }

  /** Moves time forward (never back: leaders' clocks may disagree) and expires idle sessions. */
  private advanceTo(entryTimeMs: number): void {
    if (entryTimeMs > this.nowMs) this.nowMs = entryTimeMs;
    const horizon = this.nowMs - this.limits.sessionTtlMs;
    for (const [id, s] of this.sessions) {
      if (s.lastActiveMs >= horizon) break;
      this.sessions.delete(id);
    }
  }
}
