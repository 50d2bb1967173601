/**
 * The MVCC key/value store Raft replicates (etcd v3 semantics; server/storage/mvcc in etcd).
 *
 * Revisions: the store starts at revision 1 (as etcd does). Every write command (put, delete
 * that deletes something, txn with at least one write, lease revoke/expiry that deletes keys)
 * makes exactly one new revision; the keys it writes get sub-revisions 0, 1, 2, ... in op
 * order. Reads, no-op deletes, compaction and lease bookkeeping make none. A key's
 * createRevision/version restart after a delete (a new generation).
 *
 * Apply and durability: `applyBatch` applies committed entries in log order and writes
 * everything they changed — history rows, leases, sessions and the applied index — in ONE
 * backend batch, so a crash leaves the store exactly at some batch boundary and the host
 * re-applies from `appliedIndex + 1` (entries at or below it are skipped, never applied twice).
 * Reads and watchers see only what is durable: `currentRevision` advances after the write.
 * A failed write leaves memory ahead of disk: the store refuses all further calls and the host
 * must reopen it (crash semantics).
 *
 * Sessions (raft/session): an envelope with {clientId, seq} is applied at most once; a retry
 * gets the cached response. The table is persisted per session in the same batch.
 */

import {
  DEFAULT_SESSION_LIMITS,
  type SessionLimits,
  SessionTable,
} from "../session/session-table.ts";
import type { BackendOp, MvccBackend } from "./backend.ts";
import type {
  CommandEnvelope,
  CommittedEntry,
  Compare,
  DeleteRangeCommand,
  MvccCommand,
  PutCommand,
  RangeOp,
  TxnCommand,
} from "./commands.ts";
import { type ComparedKv, compareHolds } from "./compare.ts";
import { type IndexEntry, KeyIndex } from "./key-index.ts";
import { type KeyInterval, type KeyString, keyBytes, keyInterval, keyString } from "./key-range.ts";
import {
  decodeHistoryKey,
  decodeSessionKey,
  decodeValue,
  encodeValue,
  HISTORY_END,
  type HistoryRow,
  historyKey,
  historyStart,
  LEASE_END,
  LEASE_START,
  type LeaseRow,
  leaseKey,
  META_STATE_KEY,
  type MetaState,
  RESTORING_KEY,
  type Revision,
  SESSION_END,
  SESSION_START,
  type SessionRow,
  sessionKey,
} from "./layout.ts";
import { Lessor } from "./lessor.ts";
import { DEFAULT_MVCC_LIMITS, type MvccLimits } from "./limits.ts";
import {
  type ApplyOutcome,
  type CommandResponse,
  type DeleteRangeResponse,
  type ErrorResponse,
  errorResponse,
  type KeyValue,
  type MvccError,
  type PutResponse,
  type RangeResponse,
  type TxnOpResponse,
} from "./responses.ts";
import { snapshotStream, writeSnapshotRows } from "./snapshot.ts";
import { validateCommand } from "./validation.ts";
import {
  type RevisionEvents,
  type Watcher,
  WatchHub,
  type WatchRequest,
  type WatchSource,
} from "./watch-hub.ts";

export interface MvccStoreOptions {
  limits?: Partial<MvccLimits>;
  sessionLimits?: SessionLimits;
  /**
   * fsync every applied batch (default true). With false, a crash may lose the latest batches
   * (never part of one); the host must then still have those entries in its Raft log.
   */
  syncWrites?: boolean;
}

export interface RangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** Read at this revision; 0 or absent = the current revision. */
  revision?: number;
  /** Most keys returned (0 = no limit); capped by `maxRangeResults`. */
  limit?: number;
  countOnly?: boolean;
  keysOnly?: boolean;
  /**
   * Accepted for etcd compatibility: the store always serves from its local state; whether
   * that is linearizable (ReadIndex first) is the caller's decision.
   */
  serializable?: boolean;
}

export interface MvccSnapshot {
  /** The applied index the snapshot reflects (the Raft snapshot's index). */
  appliedIndex: number;
  currentRevision: number;
  chunks: AsyncIterable<Uint8Array>;
}

export interface LeaseStatus {
  id: number;
  ttlMs: number;
  remainingTtlMs: number;
  keys: Buffer[];
}

/** The store was used while a snapshot restore is incomplete (the node must not serve). */
export class StoreRestoringError extends Error {
  constructor() {
    super("mvcc store: a snapshot restore is incomplete; restore a snapshot before serving");
    this.name = "StoreRestoringError";
  }
}

/** A cached session response; filled in after the session table admits the command. */
interface ResultHolder {
  response?: CommandResponse;
}

/** Everything one applyBatch changes, written at its end as one backend batch. */
interface Batch {
  ops: Map<string, BackendOp>;
  groups: RevisionEvents[];
  leases: Set<number>;
  sessions: Set<number>;
}

/** One write txn in progress (etcd's storeTxnWrite): all its keys share one main revision. */
interface WriteTxn {
  beginRevision: number;
  changes: number;
  group: RevisionEvents;
}

const EMPTY = Buffer.alloc(0);
const LATEST = Number.MAX_SAFE_INTEGER;

const INITIAL_META: MetaState = {
  appliedIndex: 0,
  currentRevision: 1,
  compactRevision: 0,
  sessionNowMs: 0,
  sessionOrder: 0,
};

export class MvccStore implements WatchSource {
  readonly limits: MvccLimits;
  private readonly sync: boolean;
  private readonly sessionLimits: SessionLimits;
  private readonly hub: WatchHub;

  private index = new KeyIndex();
  private lessor = new Lessor();
  private sessions: SessionTable<ResultHolder>;
  /** Mirror of the session table's persisted fields, by client id. */
  private sessionRows = new Map<number, SessionRow>();
  private meta: MetaState = { ...INITIAL_META };
  private durableApplied = 0;
  private durableRevision = 1;
  private isRestoring = false;
  private failure: unknown;
  private closed = false;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly backend: MvccBackend,
    options: MvccStoreOptions,
  ) {
    this.limits = { ...DEFAULT_MVCC_LIMITS, ...options.limits };
    this.sync = options.syncWrites ?? true;
    this.sessionLimits = options.sessionLimits ?? DEFAULT_SESSION_LIMITS;
    this.sessions = this.newSessionTable();
    this.hub = new WatchHub(
      this,
      this.limits.maxWatcherBufferedEvents,
      this.limits.watchCatchUpPageRows,
      this.limits.maxWatchers,
    );
  }

  /** Opens the store on `backend`, rebuilding the in-memory index from the history. */
  static async open(backend: MvccBackend, options: MvccStoreOptions = {}): Promise<MvccStore> {
    const store = new MvccStore(backend, options);
    await store.load();
    return store;
  }

  /** The last entry index whose effects are durable. */
  /**
   * The session table never expires by entry stamps here: they come from the proposing
   * member's wall clock, and one member whose clock jumps ahead would expire every other
   * member's sessions. Idle sessions go by the leader's `expireSessions` instead
   * (raft/replica/session-expiry.ts); the table keeps its bound (least recently active evicted).
   */
  private tableLimits(): SessionLimits {
    return { maxSessions: this.sessionLimits.maxSessions, sessionTtlMs: Number.POSITIVE_INFINITY };
  }

  private newSessionTable(): SessionTable<ResultHolder> {
    return new SessionTable(this.tableLimits());
  }

  /** How long a session may stay idle before the leader expires it. */
  get sessionTtlMs(): number {
    return this.sessionLimits.sessionTtlMs;
  }

  /** Every session with its last applied seq: what the leader watches for idleness. */
  sessionLastSeqs(): [number, number][] {
    return this.sessions.lastSeqs();
  }

  get appliedIndex(): number {
    return this.durableApplied;
  }

  /** The latest durable revision: what reads at revision 0 and new watchers see. */
  get currentRevision(): number {
    return this.durableRevision;
  }

  get compactRevision(): number {
    return this.meta.compactRevision;
  }

  /** True while a snapshot restore is incomplete (also after a crash during one). */
  get restoring(): boolean {
    return this.isRestoring;
  }

  get watcherCount(): number {
    return this.hub.size;
  }

  // -------------------------------------------------------------------------------------------
  // Apply

  apply(index: number, envelope?: CommandEnvelope): Promise<ApplyOutcome> {
    return this.applyBatch([envelope ? { index, envelope } : { index }]).then((o) => o[0]!);
  }

  /**
   * Applies committed entries in order and persists them with the applied index in one batch.
   * Entries at or below `appliedIndex` are skipped ("alreadyApplied"); a gap is a host bug.
   */
  applyBatch(entries: readonly CommittedEntry[]): Promise<ApplyOutcome[]> {
    return this.exclusive(async () => {
      this.assertServing();
      const batch: Batch = { ops: new Map(), groups: [], leases: new Set(), sessions: new Set() };
      const outcomes: ApplyOutcome[] = [];
      let changed = false;
      try {
        for (const entry of entries) {
          if (entry.index <= this.meta.appliedIndex) {
            outcomes.push({ index: entry.index, status: "alreadyApplied" });
            continue;
          }
          if (entry.index !== this.meta.appliedIndex + 1) {
            throw new Error(
              `mvcc store: entry ${entry.index} applied after ${this.meta.appliedIndex}`,
            );
          }
          outcomes.push(await this.applyEntry(entry, batch));
          this.meta.appliedIndex = entry.index;
          changed = true;
        }
        if (!changed) return outcomes;
        this.finishBatch(batch);
        await this.backend.write([...batch.ops.values()], { sync: this.sync });
      } catch (error) {
        this.failure = error;
        throw error;
      }
      this.durableApplied = this.meta.appliedIndex;
      this.durableRevision = this.meta.currentRevision;
      this.hub.notify(batch.groups);
      return outcomes;
    });
  }

  private async applyEntry(entry: CommittedEntry, batch: Batch): Promise<ApplyOutcome> {
    const { index, envelope } = entry;
    if (envelope === undefined) return { index, status: "noop" };
    const command = envelope.command;
    if (command?.op === "registerSession") {
      const invalid = validateCommand(command, this.limits);
      if (invalid) return { index, status: "applied", response: this.error(invalid) };
      const clientId = this.sessions.register(index, command.nowMs);
      this.touchSession(clientId, command.nowMs, {}, batch);
      return {
        index,
        status: "applied",
        response: { kind: "registerSession", header: this.header(), clientId },
      };
    }
    const stamp = envelope.session;
    if (stamp === undefined) {
      return { index, status: "applied", response: await this.execute(index, command, batch) };
    }
    if (![stamp.clientId, stamp.seq].every(Number.isSafeInteger) || !Number.isFinite(stamp.nowMs)) {
      return {
        index,
        status: "applied",
        response: this.error({ error: "invalid request", detail: "session stamp malformed" }),
      };
    }
    let admitted: ResultHolder | undefined;
    const outcome = this.sessions.apply(stamp.clientId, stamp.seq, stamp.nowMs, () => {
      admitted = {};
      return admitted;
    });
    this.meta.sessionNowMs = Math.max(this.meta.sessionNowMs, stamp.nowMs);
    switch (outcome.status) {
      case "applied": {
        const response = await this.execute(index, command, batch);
        admitted!.response = response;
        this.touchSession(stamp.clientId, stamp.nowMs, admitted!, batch);
        return { index, status: "applied", response };
      }
      case "duplicate": {
        // seq 0 "repeats" the registration, which has no cached response: nothing to answer.
        const cached = outcome.result?.response;
        if (cached === undefined) return { index, status: "stale" };
        this.touchSession(stamp.clientId, stamp.nowMs, outcome.result, batch);
        return { index, status: "duplicate", response: cached };
      }
      case "outOfOrder":
        return { index, status: "outOfOrder", expectedSeq: outcome.expectedSeq };
      default:
        return { index, status: outcome.status };
    }
  }

  private touchSession(clientId: number, nowMs: number, holder: ResultHolder, batch: Batch): void {
    this.meta.sessionNowMs = Math.max(this.meta.sessionNowMs, nowMs);
    this.sessionRows.set(clientId, {
      lastSeq: this.sessions.lastAppliedSeq(clientId) ?? 0,
      lastResult: holder.response ?? null,
      lastActiveMs: this.meta.sessionNowMs,
      order: ++this.meta.sessionOrder,
    });
    batch.sessions.add(clientId);
  }

  private async execute(
    index: number,
    command: MvccCommand,
    batch: Batch,
  ): Promise<CommandResponse> {
    const invalid = validateCommand(command, this.limits);
    if (invalid) return this.error(invalid);
    switch (command.op) {
      case "put": {
        const bad = this.checkPut(command, this.meta.currentRevision);
        if (bad) return this.error(bad);
        const txn = this.beginWrite();
        const response = await this.put(txn, command, batch);
        this.endWrite(txn, batch);
        return { ...response, header: this.header() };
      }
      case "deleteRange": {
        const txn = this.beginWrite();
        const response = await this.deleteRange(txn, command, batch);
        this.endWrite(txn, batch);
        return { ...response, header: this.header() };
      }
      case "txn":
        return this.txn(command, batch);
      case "compact":
        return this.compact(command.revision, batch);
      case "leaseGrant": {
        const id = command.id === 0 ? index : command.id;
        if (this.lessor.has(id)) return this.error({ error: "lease exists", leaseId: id });
        this.lessor.grant(id, command.ttlMs, command.nowMs + command.ttlMs);
        batch.leases.add(id);
        return { kind: "leaseGrant", header: this.header(), id, ttlMs: command.ttlMs };
      }
      case "leaseRevoke": {
        if (!this.lessor.has(command.id))
          return this.error({ error: "lease not found", leaseId: command.id });
        this.revokeLease(command.id, batch);
        return { kind: "leaseRevoke", header: this.header() };
      }
      case "leaseKeepAlive": {
        const lease = this.lessor.get(command.id);
        if (lease === undefined)
          return this.error({ error: "lease not found", leaseId: command.id });
        lease.expiryMs = command.nowMs + lease.ttlMs;
        batch.leases.add(lease.id);
        return { kind: "leaseKeepAlive", header: this.header(), id: lease.id, ttlMs: lease.ttlMs };
      }
      case "leaseCheckpoint": {
        for (const { id, remainingTtlMs } of command.checkpoints) {
          const lease = this.lessor.get(id);
          if (lease === undefined) continue;
          lease.expiryMs = command.nowMs + Math.max(0, remainingTtlMs);
          batch.leases.add(id);
        }
        return { kind: "leaseCheckpoint", header: this.header() };
      }
      case "leaseExpire": {
        // Each expired lease is revoked as its own revision, as etcd revokes each in its own entry.
        const expired: number[] = [];
        for (const id of command.ids) {
          const lease = this.lessor.get(id);
          if (lease === undefined || lease.expiryMs > command.nowMs) continue;
          this.revokeLease(id, batch);
          expired.push(id);
        }
        return { kind: "leaseExpire", header: this.header(), expired };
      }
      case "expireSessions":
        // the rows of dropped sessions go with this batch (persistSessions)
        return {
          kind: "expireSessions",
          header: this.header(),
          expired: this.sessions.expire(command.sessions),
        };
      case "registerSession":
        // Handled by applyEntry; reaching here means it came without an envelope's care.
        return this.error({ error: "invalid request", detail: "registerSession inside a command" });
    }
  }

  private header(): { revision: number } {
    return { revision: this.meta.currentRevision };
  }

  private error(error: MvccError): ErrorResponse {
    return errorResponse(this.meta.currentRevision, error);
  }

  // -------------------------------------------------------------------------------------------
  // Writes (etcd's storeTxnWrite)

  private beginWrite(): WriteTxn {
    const begin = this.meta.currentRevision;
    return { beginRevision: begin, changes: 0, group: { revision: begin + 1, events: [] } };
  }

  /** A txn's reads see its own earlier writes. */
  private readRevision(txn: WriteTxn): number {
    return txn.changes > 0 ? txn.beginRevision + 1 : txn.beginRevision;
  }

  private endWrite(txn: WriteTxn, batch: Batch): void {
    if (txn.changes === 0) return;
    this.meta.currentRevision = txn.beginRevision + 1;
    batch.groups.push(txn.group);
  }

  /** Checks a put against state (etcd's checkRequestPut): lease exists, ignore* key exists. */
  private checkPut(put: PutCommand, revision: number): MvccError | undefined {
    const lease = put.lease ?? 0;
    if (lease !== 0 && !this.lessor.has(lease)) return { error: "lease not found", leaseId: lease };
    if ((put.ignoreValue || put.ignoreLease) && !this.index.liveAt(keyString(put.key), revision)) {
      return { error: "key not found" };
    }
    return undefined;
  }

  private async put(txn: WriteTxn, put: PutCommand, batch: Batch): Promise<PutResponse> {
    const key = keyString(put.key);
    const rev: Revision = { main: txn.beginRevision + 1, sub: txn.changes };
    const live = this.index.liveAt(key, LATEST);
    const prevKv =
      live && (put.prevKv || put.ignoreValue) ? await this.kvOf(key, live, batch) : undefined;
    const value = put.ignoreValue ? prevKv!.value : Buffer.from(put.value);
    const lease = put.ignoreLease ? live!.lease : (put.lease ?? 0);
    const entry: IndexEntry = {
      ...rev,
      createRevision: live ? live.createRevision : rev.main,
      version: live ? live.version + 1 : 1,
      lease,
      tombstone: false,
    };
    const keyBuf = keyBytes(key);
    this.index.append(key, entry);
    this.stage(batch, historyKey(rev), [
      keyBuf,
      value,
      entry.createRevision,
      entry.version,
      lease,
      0,
    ]);
    if (live) this.lessor.detach(live.lease, key);
    this.lessor.attach(lease, key);
    txn.changes++;
    txn.group.events.push({ type: "PUT", kv: kvFrom(keyBuf, value, entry) });
    const response: PutResponse = { kind: "put", header: { revision: 0 } };
    if (put.prevKv && prevKv) response.prevKv = prevKv;
    return response;
  }

  private async deleteRange(
    txn: WriteTxn,
    del: DeleteRangeCommand,
    batch: Batch,
  ): Promise<DeleteRangeResponse> {
    const interval = keyInterval(del.key, del.rangeEnd);
    const prevKvs: KeyValue[] = [];
    const victims: [KeyString, IndexEntry][] = [];
    for (const key of this.index.keysIn(interval)) {
      const live = this.index.liveAt(key, LATEST);
      if (live) victims.push([key, live]);
    }
    for (const [key, live] of victims) {
      if (del.prevKv) prevKvs.push(await this.kvOf(key, live, batch));
      this.deleteKey(txn, key, live, batch);
    }
    const response: DeleteRangeResponse = {
      kind: "deleteRange",
      header: { revision: 0 },
      deleted: victims.length,
    };
    if (del.prevKv) response.prevKvs = prevKvs;
    return response;
  }

  private deleteKey(txn: WriteTxn, key: KeyString, live: IndexEntry, batch: Batch): void {
    const rev: Revision = { main: txn.beginRevision + 1, sub: txn.changes };
    const keyBuf = keyBytes(key);
    this.index.append(key, { ...rev, createRevision: 0, version: 0, lease: 0, tombstone: true });
    this.stage(batch, historyKey(rev), [keyBuf, EMPTY, 0, 0, 0, 1]);
    this.lessor.detach(live.lease, key);
    txn.changes++;
    txn.group.events.push({ type: "DELETE", kv: tombstoneKv(keyBuf, rev.main) });
  }

  private async txn(command: TxnCommand, batch: Batch): Promise<CommandResponse> {
    const txn = this.beginWrite();
    let succeeded = true;
    for (const compare of command.compare) {
      if (!compareHolds(compare, await this.comparedKvs(compare, txn.beginRevision, batch))) {
        succeeded = false;
        break;
      }
    }
    const ops = succeeded ? command.success : command.failure;
    for (const op of ops) {
      if (op.op !== "put") continue;
      const bad = this.checkPut(op, txn.beginRevision);
      if (bad) return this.error(bad);
    }
    const responses: TxnOpResponse[] = [];
    for (const op of ops) {
      if (op.op === "put") responses.push(await this.put(txn, op, batch));
      else if (op.op === "deleteRange") responses.push(await this.deleteRange(txn, op, batch));
      else responses.push(await this.txnRange(txn, op, batch));
    }
    this.endWrite(txn, batch);
    const header = this.header();
    for (const r of responses) r.header = header;
    return { kind: "txn", header, succeeded, responses };
  }

  private async txnRange(txn: WriteTxn, op: RangeOp, batch: Batch): Promise<RangeResponse> {
    const result = await this.rangeAt(
      keyInterval(op.key, op.rangeEnd),
      this.readRevision(txn),
      op,
      batch,
    );
    // Rows a txn reads are durable or staged in this batch, never compacted under it.
    if (result === undefined) throw new Error("mvcc store: txn range lost a row");
    return result;
  }

  private async comparedKvs(
    compare: Compare,
    revision: number,
    batch: Batch,
  ): Promise<ComparedKv[]> {
    const out: ComparedKv[] = [];
    for (const key of this.index.keysIn(keyInterval(compare.key, compare.rangeEnd))) {
      const e = this.index.liveAt(key, revision);
      if (!e) continue;
      const value = compare.target === "value" ? (await this.kvOf(key, e, batch)).value : undefined;
      out.push({
        value,
        version: e.version,
        createRevision: e.createRevision,
        modRevision: e.main,
        lease: e.lease,
      });
    }
    return out;
  }

  /** Revokes a lease: its keys are deleted in one revision (etcd's lessor.Revoke txn). */
  private revokeLease(id: number, batch: Batch): void {
    const keys = this.lessor.revoke(id);
    batch.leases.add(id);
    const txn = this.beginWrite();
    for (const key of keys) {
      const live = this.index.liveAt(key, LATEST);
      if (live) this.deleteKey(txn, key, live, batch);
    }
    this.endWrite(txn, batch);
  }

  private compact(revision: number, batch: Batch): CommandResponse {
    if (revision <= this.meta.compactRevision) {
      return this.error({ error: "compacted", compactRevision: this.meta.compactRevision });
    }
    if (revision > this.meta.currentRevision) {
      return this.error({ error: "future revision", currentRevision: this.meta.currentRevision });
    }
    for (const rev of this.index.compact(revision)) {
      const key = historyKey(rev);
      batch.ops.set(key.toString("latin1"), { type: "del", key });
    }
    this.meta.compactRevision = revision;
    return { kind: "compact", header: this.header() };
  }

  private stage(batch: Batch, key: Buffer, row: HistoryRow): void {
    batch.ops.set(key.toString("latin1"), { type: "put", key, value: encodeValue(row) });
  }

  /** Adds the meta row, touched leases and sessions, and dropped sessions to the batch. */
  private finishBatch(batch: Batch): void {
    for (const id of batch.leases) {
      const key = leaseKey(id);
      const lease = this.lessor.get(id);
      const row: LeaseRow | undefined = lease && {
        id,
        ttlMs: lease.ttlMs,
        expiryMs: lease.expiryMs,
      };
      batch.ops.set(
        key.toString("latin1"),
        row ? { type: "put", key, value: encodeValue(row) } : { type: "del", key },
      );
    }
    // Sessions the table expired or evicted (it may drop any, not only those touched here).
    for (const id of [...this.sessionRows.keys()]) {
      if (this.sessions.has(id)) continue;
      this.sessionRows.delete(id);
      const key = sessionKey(id);
      batch.ops.set(key.toString("latin1"), { type: "del", key });
    }
    for (const id of batch.sessions) {
      const row = this.sessionRows.get(id);
      if (row === undefined) continue;
      row.lastSeq = this.sessions.lastAppliedSeq(id) ?? row.lastSeq;
      const key = sessionKey(id);
      batch.ops.set(key.toString("latin1"), { type: "put", key, value: encodeValue(row) });
    }
    batch.ops.set(META_STATE_KEY.toString("latin1"), {
      type: "put",
      key: META_STATE_KEY,
      value: encodeValue(this.meta),
    });
  }

  /**
   * Makes everything applied so far durable (one fsync'd write of the meta row). With
   * `syncWrites: false` the host calls this before it drops log entries the store covers: until
   * then, a machine crash is repaired by replaying the log.
   */
  flush(): Promise<void> {
    return this.exclusive(async () => {
      this.assertServing();
      const value = encodeValue(this.meta); // no batch is open here: meta is what was written
      await this.backend.write([{ type: "put", key: META_STATE_KEY, value }], { sync: true });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** etcd's Range at the current or an older (uncompacted) revision. */
  async range(request: RangeRequest): Promise<RangeResponse | ErrorResponse> {
    const current = this.durableRevision;
    if (this.isRestoring) return errorResponse(current, { error: "restoring" });
    this.assertUsable();
    const shape = validateCommand(
      { ...request, op: "deleteRange" } as DeleteRangeCommand,
      this.limits,
    );
    if (shape) return errorResponse(current, shape);
    const revision = request.revision && request.revision > 0 ? request.revision : current;
    if (revision > current)
      return errorResponse(current, { error: "future revision", currentRevision: current });
    if (revision < this.meta.compactRevision) {
      return errorResponse(current, {
        error: "compacted",
        compactRevision: this.meta.compactRevision,
      });
    }
    const result = await this.rangeAt(
      keyInterval(request.key, request.rangeEnd),
      revision,
      request,
      undefined,
    );
    if (result === undefined) {
      // A compaction removed rows while we read them.
      return errorResponse(current, {
        error: "compacted",
        compactRevision: this.meta.compactRevision,
      });
    }
    result.header = { revision: current };
    return result;
  }

  /** The range at `revision`; undefined if a row vanished (compacted concurrently). */
  private async rangeAt(
    interval: KeyInterval,
    revision: number,
    options: { limit?: number; countOnly?: boolean; keysOnly?: boolean },
    batch: Batch | undefined,
  ): Promise<RangeResponse | undefined> {
    const wanted = options.limit && options.limit > 0 ? options.limit : Number.POSITIVE_INFINITY;
    const limit = Math.min(wanted, this.limits.maxRangeResults);
    const found: [KeyString, IndexEntry][] = [];
    let count = 0;
    for (const key of this.index.keysIn(interval)) {
      const e = this.index.liveAt(key, revision);
      if (!e) continue;
      count++;
      if (!options.countOnly && found.length < limit) found.push([key, e]);
    }
    const kvs: KeyValue[] = [];
    for (const [key, e] of found) {
      if (options.keysOnly) {
        kvs.push(kvFrom(keyBytes(key), EMPTY, e));
        continue;
      }
      const row = await this.readRow(e, batch);
      if (row === undefined) return undefined;
      kvs.push(kvFrom(row[0], row[1], e));
    }
    return {
      kind: "range",
      header: { revision },
      kvs,
      more: !options.countOnly && count > kvs.length,
      count,
    };
  }

  private async readRow(rev: Revision, batch: Batch | undefined): Promise<HistoryRow | undefined> {
    const key = historyKey(rev);
    const staged = batch?.ops.get(key.toString("latin1"));
    if (staged) return staged.type === "put" ? decodeValue<HistoryRow>(staged.value) : undefined;
    const bytes = await this.backend.get(key);
    return bytes === undefined ? undefined : decodeValue<HistoryRow>(bytes);
  }

  private async kvOf(key: KeyString, e: IndexEntry, batch: Batch | undefined): Promise<KeyValue> {
    const row = await this.readRow(e, batch);
    if (row === undefined) throw new Error(`mvcc store: history row ${e.main}.${e.sub} missing`);
    return kvFrom(keyBytes(key), row[1], e);
  }

  // -------------------------------------------------------------------------------------------
  // Watch

  /** A watcher on [key, rangeEnd) from `startRevision`; see watch-hub.ts for the guarantees. */
  watch(request: WatchRequest): Watcher {
    if (this.closed) return this.hub.watch(request, "closed");
    this.assertUsable();
    if (this.isRestoring) return this.hub.watch(request, "restoring");
    return this.hub.watch(request);
  }

  /** A progress notification (bookmark) to every watcher. */
  progressAll(): void {
    this.hub.progressAll();
  }

  /** @internal WatchSource: whole revisions of history from `from` up to `toRevision`. */
  async readHistory(
    from: Revision,
    toRevision: number,
    maxRows: number,
  ): Promise<{ groups: RevisionEvents[]; resumeAt: Revision | undefined }> {
    const rows = await collect(
      this.backend.iterate({
        gte: historyKey(from),
        lt: historyStart(toRevision + 1),
        limit: maxRows,
      }),
    );
    let resumeAt: Revision | undefined;
    if (rows.length === maxRows && rows.length > 0) {
      const lastMain = decodeHistoryKey(rows[rows.length - 1]![0]).main;
      if (decodeHistoryKey(rows[0]![0]).main === lastMain) {
        // One revision larger than a page: it is delivered whole, so read all of it.
        const lastSub = decodeHistoryKey(rows[rows.length - 1]![0]).sub;
        const rest = this.backend.iterate({
          gte: historyKey({ main: lastMain, sub: lastSub + 1 }),
          lt: historyStart(lastMain + 1),
        });
        rows.push(...(await collect(rest)));
        resumeAt = lastMain < toRevision ? { main: lastMain + 1, sub: 0 } : undefined;
      } else {
        while (rows.length > 0 && decodeHistoryKey(rows[rows.length - 1]![0]).main === lastMain)
          rows.pop();
        resumeAt = { main: lastMain, sub: 0 };
      }
    }
    const groups: RevisionEvents[] = [];
    for (const [k, v] of rows) {
      const rev = decodeHistoryKey(k);
      const row = decodeValue<HistoryRow>(v);
      let group = groups[groups.length - 1];
      if (group?.revision !== rev.main) {
        group = { revision: rev.main, events: [] };
        groups.push(group);
      }
      group.events.push(
        row[5]
          ? { type: "DELETE", kv: tombstoneKv(row[0], rev.main) }
          : {
              type: "PUT",
              kv: {
                key: row[0],
                value: row[1],
                createRevision: row[2],
                modRevision: rev.main,
                version: row[3],
                lease: row[4],
              },
            },
      );
    }
    return { groups, resumeAt };
  }

  /** @internal WatchSource: the live key/value at a revision, if still readable. */
  async readKvAt(key: Buffer, revision: number): Promise<KeyValue | undefined> {
    if (revision < this.meta.compactRevision) return undefined;
    const k = keyString(key);
    const e = this.index.liveAt(k, revision);
    if (e === undefined) return undefined;
    const row = await this.readRow(e, undefined);
    return row && kvFrom(row[0], row[1], e);
  }

  // -------------------------------------------------------------------------------------------
  // Leases (pure queries for the leader's ticker and for clients)

  /** Leases due at `nowMs`, earliest first: what the leader proposes in a `leaseExpire`. */
  dueLeases(nowMs: number, max = this.limits.maxLeasesPerExpire): number[] {
    return this.lessor.due(nowMs, max);
  }

  leaseTimeToLive(id: number, nowMs: number): LeaseStatus | undefined {
    const lease = this.lessor.get(id);
    if (lease === undefined) return undefined;
    return {
      id,
      ttlMs: lease.ttlMs,
      remainingTtlMs: Math.max(0, lease.expiryMs - nowMs),
      keys: [...lease.keys].sort().map(keyBytes),
    };
  }

  leaseIds(): number[] {
    return this.lessor.ids();
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  /**
   * A consistent snapshot of the whole state machine at a batch boundary: the backend iterator
   * is opened between batches, and its implicit snapshot is what the chunks stream. Consume the
   * chunks fully (or break): the iterator pins the backend snapshot until then.
   */
  snapshot(): Promise<MvccSnapshot> {
    return this.exclusive(async () => {
      this.assertServing();
      const rows = this.backend.iterate({});
      const header = { appliedIndex: this.durableApplied, currentRevision: this.durableRevision };
      return { ...header, chunks: snapshotStream(rows, header, this.limits.maxSnapshotChunkBytes) };
    });
  }

  /** The snapshot's chunks; the snapshot point is the first pull. */
  async *snapshotChunks(): AsyncIterable<Uint8Array> {
    const snapshot = await this.snapshot();
    yield* snapshot.chunks;
  }

  /**
   * Replaces the whole state with a snapshot stream. A "restoring" marker is written (synced)
   * first and removed (synced) last: a crash in between leaves it, and the store reopens with
   * `restoring` set and refuses to serve until a restore completes. Watchers are cancelled
   * ("restored"): their clients re-watch against the new state.
   */
  restoreSnapshot(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    return this.exclusive(async () => {
      this.assertUsable();
      this.hub.cancelAll("restored");
      this.isRestoring = true;
      await this.backend.write([{ type: "put", key: RESTORING_KEY, value: Buffer.from([1]) }], {
        sync: true,
      });
      // Delete the old state page by page, each page starting after the last (no rescans of
      // deleted keys); the marker stays.
      let from: Buffer | undefined;
      for (;;) {
        const page = this.backend.iterate({
          ...(from ? { gte: from } : {}),
          limit: this.limits.restoreBatchRows,
        });
        const keys = (await collect(page)).map(([k]) => k);
        if (keys.length === 0) break;
        from = Buffer.concat([keys[keys.length - 1]!, Buffer.from([0])]);
        const ops: BackendOp[] = keys
          .filter((key) => !key.equals(RESTORING_KEY))
          .map((key) => ({ type: "del", key }));
        if (ops.length > 0) await this.backend.write(ops, { sync: false });
      }
      await writeSnapshotRows(chunks, this.backend, this.limits.restoreBatchRows);
      await this.backend.write([{ type: "del", key: RESTORING_KEY }], { sync: true });
      await this.load();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Cancels watchers ("closed"), waits for the batch in flight, closes the backend. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.hub.cancelAll("closed");
    return this.exclusive(() => this.backend.close());
  }

  private async load(): Promise<void> {
    this.index = new KeyIndex();
    this.lessor = new Lessor();
    this.sessionRows = new Map();
    this.meta = { ...INITIAL_META };
    this.sessions = this.newSessionTable();
    this.isRestoring = (await this.backend.get(RESTORING_KEY)) !== undefined;
    if (this.isRestoring) return;
    const meta = await this.backend.get(META_STATE_KEY);
    if (meta) this.meta = { ...INITIAL_META, ...decodeValue<MetaState>(meta) };
    for await (const [, v] of this.backend.iterate({ gte: LEASE_START, lt: LEASE_END })) {
      const row = decodeValue<LeaseRow>(v);
      this.lessor.grant(row.id, row.ttlMs, row.expiryMs);
    }
    const leaseOf = new Map<KeyString, number>();
    for await (const [k, v] of this.backend.iterate({ gte: historyStart(0), lt: HISTORY_END })) {
      const rev = decodeHistoryKey(k);
      const [keyBuf, , createRevision, version, lease, tombstone] = decodeValue<HistoryRow>(v);
      const key = keyString(keyBuf);
      this.index.append(key, {
        ...rev,
        createRevision,
        version,
        lease,
        tombstone: tombstone === 1,
      });
      if (tombstone || lease === 0) leaseOf.delete(key);
      else leaseOf.set(key, lease);
    }
    for (const [key, lease] of leaseOf) this.lessor.attach(lease, key);
    const sessions: [number, SessionRow][] = [];
    for await (const [k, v] of this.backend.iterate({ gte: SESSION_START, lt: SESSION_END })) {
      sessions.push([decodeSessionKey(k), decodeValue<SessionRow>(v)]);
    }
    sessions.sort((a, b) => a[1].order - b[1].order);
    for (const [id, row] of sessions) this.sessionRows.set(id, row);
    this.sessions = SessionTable.restore(
      {
        nowMs: this.meta.sessionNowMs,
        sessions: sessions.map(([id, row]) => [
          id,
          {
            lastSeq: row.lastSeq,
            lastResult:
              row.lastResult === null ? undefined : { response: row.lastResult as CommandResponse },
            lastActiveMs: row.lastActiveMs,
          },
        ]),
      },
      this.tableLimits(),
    );
    this.durableApplied = this.meta.appliedIndex;
    this.durableRevision = this.meta.currentRevision;
  }

  private assertUsable(): void {
    if (this.failure !== undefined) {
      throw new Error("mvcc store: a batch failed to persist; reopen the store", {
        cause: this.failure,
      });
    }
    if (this.closed) throw new Error("mvcc store: closed");
  }

  private assertServing(): void {
    this.assertUsable();
    if (this.isRestoring) throw new StoreRestoringError();
  }

  /** Runs `fn` after every earlier exclusive call has finished (batches never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}

function kvFrom(key: Buffer, value: Buffer, e: IndexEntry): KeyValue {
  return {
    key,
    value,
    createRevision: e.createRevision,
    modRevision: e.main,
    version: e.version,
    lease: e.lease,
  };
}

/** A DELETE event's kv: the key and the delete's revision (etcd sends nothing else). */
function tombstoneKv(key: Buffer, revision: number): KeyValue {
  return { key, value: EMPTY, createRevision: 0, modRevision: revision, version: 0, lease: 0 };
}

async function collect(it: AsyncIterableIterator<[Buffer, Buffer]>): Promise<[Buffer, Buffer][]> {
  const out: [Buffer, Buffer][] = [];
  for await (const pair of it) out.push(pair);
  return out;
}
