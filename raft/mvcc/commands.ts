/**
 * The commands a Raft entry carries to the MVCC state machine: plain data, msgpack-encodable,
 * a typed union on `op`. Shapes follow etcd's rpc.proto (PutRequest, DeleteRangeRequest,
 * TxnRequest, CompactionRequest, LeaseGrant/Revoke/KeepAlive/Checkpoint) with camelCase names.
 *
 * The state machine never reads a clock: every command whose effect depends on time carries
 * `nowMs`, the time the leader assigned when it proposed the entry.
 */

export interface PutCommand {
  op: "put";
  key: Uint8Array;
  value: Uint8Array;
  /** Attach the key to this lease (0 or absent = none; a put without it detaches). */
  lease?: number;
  /** Return the key/value before this put. */
  prevKv?: boolean;
  /** Keep the current value (the key must exist; `value` must be empty). */
  ignoreValue?: boolean;
  /** Keep the current lease (the key must exist; `lease` must be absent or 0). */
  ignoreLease?: boolean;
}

export interface DeleteRangeCommand {
  op: "deleteRange";
  key: Uint8Array;
  /** See key-range.ts. */
  rangeEnd?: Uint8Array;
  /** Return the deleted key/values. */
  prevKv?: boolean;
}

/** A range inside a txn (reads at the txn's revision, seeing the txn's earlier writes). */
export interface RangeOp {
  op: "range";
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  limit?: number;
  countOnly?: boolean;
  keysOnly?: boolean;
}

export type TxnOp = PutCommand | DeleteRangeCommand | RangeOp;

export type CompareTarget = "value" | "version" | "createRevision" | "modRevision" | "lease";
export type CompareResult = "=" | "!=" | "<" | ">";

/**
 * etcd's Compare: `target` of every key in [key, rangeEnd) against the operand. A missing key
 * compares as version/createRevision/modRevision/lease 0; a value compare on a missing key fails.
 */
export type Compare =
  | {
      target: "value";
      key: Uint8Array;
      rangeEnd?: Uint8Array;
      result: CompareResult;
      value: Uint8Array;
    }
  | {
      target: "version" | "createRevision" | "modRevision" | "lease";
      key: Uint8Array;
      rangeEnd?: Uint8Array;
      result: CompareResult;
      operand: number;
    };

export interface TxnCommand {
  op: "txn";
  compare: Compare[];
  success: TxnOp[];
  failure: TxnOp[];
}

export interface CompactCommand {
  op: "compact";
  revision: number;
}

export interface LeaseGrantCommand {
  op: "leaseGrant";
  /** 0 = let the state machine pick (it uses the entry's log index, unique forever). */
  id: number;
  ttlMs: number;
  nowMs: number;
}

export interface LeaseRevokeCommand {
  op: "leaseRevoke";
  id: number;
}

/** A keep-alive: the lease's expiry becomes nowMs + ttlMs. */
export interface LeaseKeepAliveCommand {
  op: "leaseKeepAlive";
  id: number;
  nowMs: number;
}

/**
 * etcd's lease checkpoint: the leader records each lease's remaining TTL so that a new leader
 * (whose clock may differ) does not restart them at their full TTL. Expiry = nowMs + remaining.
 */
export interface LeaseCheckpointCommand {
  op: "leaseCheckpoint";
  checkpoints: { id: number; remainingTtlMs: number }[];
  nowMs: number;
}

/**
 * Revokes the listed leases that are still due at nowMs (a keep-alive applied in between wins).
 * The leader proposes it from `dueLeases(nowMs)`.
 */
export interface LeaseExpireCommand {
  op: "leaseExpire";
  ids: number[];
  nowMs: number;
}

/**
 * Drops idle client sessions: the leader proposes it for sessions whose seq has not moved for a
 * TTL of its own monotonic time (raft/replica/session-expiry.ts), each with the seq it saw; one
 * that applied a command since then stays. Time never comes from entry stamps here: a member
 * whose wall clock jumps ahead must not expire everyone else's sessions.
 */
export interface ExpireSessionsCommand {
  op: "expireSessions";
  /** [clientId, lastSeq] pairs. */
  sessions: [number, number][];
}

/** Opens a client session (raft/session); its client id is this entry's log index. */
export interface RegisterSessionCommand {
  op: "registerSession";
  nowMs: number;
}

export type MvccCommand =
  | PutCommand
  | DeleteRangeCommand
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseKeepAliveCommand
  | LeaseCheckpointCommand
  | LeaseExpireCommand
  | ExpireSessionsCommand
  | RegisterSessionCommand;

/** The client's identity for exactly-once application of a retried proposal (dissertation §6.3). */
export interface SessionStamp {
  /** The id `registerSession` returned. */
  clientId: number;
  /** 1, 2, 3, ... one outstanding command per session. */
  seq: number;
  /** The leader's time at proposal; drives session expiry. */
  nowMs: number;
}

/** What one Raft entry carries. */
export interface CommandEnvelope {
  command: MvccCommand;
  session?: SessionStamp;
}

/** A committed entry handed to `applyBatch`: no envelope = an entry the store does not interpret
 * (a leader's empty no-op, a configuration change); only the applied index advances. */
export interface CommittedEntry {
  index: number;
  envelope?: CommandEnvelope;
}
