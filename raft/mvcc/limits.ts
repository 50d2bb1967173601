/**
 * Named limits of the MVCC store. Every quantity a client or a peer can make grow is bounded
 * here; a request beyond a limit gets a typed error result, never an exception.
 */
export interface MvccLimits {
  /**
   * Largest key, in bytes. etcd has no separate key limit (only its 1.5 MiB request limit);
   * Kubernetes keys are `/registry/<group>/<resource>/<namespace>/<name>` (names ≤ 253 bytes),
   * so 3 KiB leaves room while keeping the in-memory key index small.
   */
  maxKeyBytes: number;
  /** Largest value, in bytes: etcd's default request limit (`--max-request-bytes`, 1.5 MiB). */
  maxValueBytes: number;
  /** Most operations in one txn branch: etcd's default `--max-txn-ops`. */
  maxTxnOps: number;
  /**
   * Most key/values one range returns. A range asking for more (or for no limit) gets this
   * many with `more: true`; the caller continues from the last key. `count` is always exact.
   */
  maxRangeResults: number;
  /**
   * Most events queued for one watcher that its consumer has not taken yet. A watcher beyond
   * it is cancelled ("slow consumer") rather than letting memory grow; one revision's events
   * are always accepted into an empty queue, however many they are.
   */
  maxWatcherBufferedEvents: number;
  /** History rows a catching-up watcher reads from the backend per step. */
  watchCatchUpPageRows: number;
  /** Most open watchers per store. */
  maxWatchers: number;
  /** Largest snapshot chunk, in bytes (a chunk always holds at least one row). */
  maxSnapshotChunkBytes: number;
  /** Rows written per backend batch while restoring a snapshot. */
  restoreBatchRows: number;
  /** Longest lease TTL: etcd's MaxLeaseTTL (9,000,000,000 s). */
  maxLeaseTtlMs: number;
  /** Most leases `dueLeases` proposes for one `leaseExpire` (etcd revokes ≤ 1000 leases/s). */
  maxLeasesPerExpire: number;
  /** Most sessions one `expireSessions` may list. */
  maxSessionsPerExpire: number;
}

export const DEFAULT_MVCC_LIMITS: MvccLimits = {
  maxKeyBytes: 3 * 1024,
  maxValueBytes: 1.5 * 1024 * 1024,
  maxTxnOps: 128,
  maxRangeResults: 10_000,
  maxWatcherBufferedEvents: 10_000,
  watchCatchUpPageRows: 1_000,
  maxWatchers: 100_000,
  maxSnapshotChunkBytes: 4 * 1024 * 1024,
  restoreBatchRows: 10_000,
  maxLeaseTtlMs: 9_000_000_000 * 1000,
  maxLeasesPerExpire: 1_000,
  maxSessionsPerExpire: 1_000,
};
