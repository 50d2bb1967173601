/**
 * Watchers (etcd's watchableStore): a watcher gets every change to its key range from its start
 * revision on, one response per revision, in revision order, without gap or repeat.
 *
 * - Starting at or below the store's revision, the watcher first replays history from the
 *   backend (page by page, as its consumer pulls), then continues with live events. Live
 *   revisions committed during the replay wait in a pending list, so the switch neither skips
 *   nor repeats a revision.
 * - A start revision at or below the compacted revision is refused with a `compacted` cancel
 *   carrying the compact revision (etcd accepts start = compactRev, but the tombstones at that
 *   revision are gone by then, so its first response can be incomplete; we refuse instead).
 *   A compaction that overtakes a replaying watcher cancels it the same way.
 * - A consumer that falls behind by more than `maxWatcherBufferedEvents` is cancelled ("slow
 *   consumer") instead of growing memory; it re-watches from its last revision.
 * - `prevKv` is resolved when the response is taken, as etcd does: the key at modRevision - 1,
 *   omitted if that revision was compacted since.
 * - Progress notifications carry the store's revision; a replaying watcher sends its progress
 *   once caught up (a bookmark must never run ahead of the events delivered).
 */
import { intervalContains, type KeyInterval, keyInterval, keyString } from "./key-range.ts";
import type { KeyValue } from "./responses.ts";

export type WatchFilter = "noPut" | "noDelete";

export interface WatchRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** First revision to deliver; 0 or absent = the next revision (only future changes). */
  startRevision?: number;
  prevKv?: boolean;
  filters?: WatchFilter[];
}

export interface WatchEvent {
  type: "PUT" | "DELETE";
  /** For a DELETE: the key and modRevision (the delete's revision), the rest zero/empty. */
  kv: KeyValue;
  prevKv?: KeyValue;
}

export type WatchCancelReason =
  | "compacted"
  | "slow consumer"
  | "too many watchers"
  | "closed"
  | "restored"
  | "restoring";

export type WatchResponse =
  | { kind: "events"; watchId: number; header: { revision: number }; events: WatchEvent[] }
  | { kind: "progress"; watchId: number; header: { revision: number } }
  | { kind: "canceled"; watchId: number; reason: WatchCancelReason; compactRevision?: number };

/** All events of one revision, as the store commits them. */
export interface RevisionEvents {
  revision: number;
  events: { type: "PUT" | "DELETE"; kv: KeyValue }[];
}

/** What a watcher reads from the store. */
export interface WatchSource {
  /** The latest durable revision. */
  readonly currentRevision: number;
  readonly compactRevision: number;
  /** The history revisions [fromRevision, toRevision], at most `maxRows` rows, whole revisions
   * unless one revision alone exceeds `maxRows` (then `resumeAt` continues it). */
  readHistory(
    from: { main: number; sub: number },
    toRevision: number,
    maxRows: number,
  ): Promise<{ groups: RevisionEvents[]; resumeAt: { main: number; sub: number } | undefined }>;
  /** The live key/value of `key` at `revision`, or undefined (absent, or compacted). */
  readKvAt(key: Buffer, revision: number): Promise<KeyValue | undefined>;
}

type Queued =
  | RevisionEvents
  | { progress: number }
  | { canceled: WatchCancelReason; compactRevision?: number };

export class Watcher implements AsyncIterable<WatchResponse> {
  private readonly interval: KeyInterval;
  private readonly wantPrevKv: boolean;
  private readonly noPut: boolean;
  private readonly noDelete: boolean;
  /** The lowest revision not yet queued. */
  private nextRevision: number;
  /** While replaying: where the next history read starts and the last revision to replay. */
  private replay: { from: { main: number; sub: number }; to: number } | undefined;
  private readonly pendingLive: RevisionEvents[] = [];
  private progressRequested = false;
  private readonly queue: Queued[] = [];
  private bufferedEvents = 0;
  private finished = false;
  private wake: (() => void) | undefined;
  private pulling: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: number,
    request: WatchRequest,
    private readonly source: WatchSource,
    private readonly maxBufferedEvents: number,
    private readonly replayPageRows: number,
    private readonly onDone: (w: Watcher) => void,
  ) {
    this.interval = keyInterval(request.key, request.rangeEnd);
    this.wantPrevKv = request.prevKv ?? false;
    this.noPut = request.filters?.includes("noPut") ?? false;
    this.noDelete = request.filters?.includes("noDelete") ?? false;
    const current = source.currentRevision;
    const start =
      request.startRevision && request.startRevision > 0 ? request.startRevision : current + 1;
    this.nextRevision = start;
    if (start <= source.compactRevision) {
      this.cancelWith("compacted", source.compactRevision);
    } else if (start <= current) {
      this.replay = { from: { main: start, sub: 0 }, to: current };
    }
  }

  get canceled(): boolean {
    return this.finished;
  }

  /** Asks for a progress notification (etcd's RequestProgress). */
  requestProgress(): void {
    if (this.finished) return;
    if (this.replay !== undefined) this.progressRequested = true;
    else this.push({ progress: this.source.currentRevision }, 0);
  }

  /** Stops the watcher; a pending `next()` resolves with undefined. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.queue.length = 0;
    this.bufferedEvents = 0;
    this.onDone(this);
    this.wake?.();
  }

  /** The next response, or undefined once the watcher is finished. */
  next(): Promise<WatchResponse | undefined> {
    const result = this.pulling.then(() => this.take());
    this.pulling = result.catch(() => undefined);
    return result;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    try {
      for (;;) {
        const r = await this.next();
        if (r === undefined) return;
        yield r;
      }
    } finally {
      this.cancel();
    }
  }

  /** @internal The store committed these revisions (in order). */
  deliver(groups: readonly RevisionEvents[]): void {
    for (const group of groups) {
      if (this.finished) return;
      if (this.replay !== undefined) {
        if (group.revision > this.replay.to) {
          this.pendingLive.push(group);
          this.bufferedEvents += group.events.length;
          if (this.bufferedEvents > this.maxBufferedEvents) this.cancelWith("slow consumer");
        }
      } else {
        this.queueGroup(group);
      }
    }
  }

  /** @internal Ends the watcher with a final canceled response. */
  cancelWith(reason: WatchCancelReason, compactRevision?: number): void {
    if (this.finished) return;
    this.queue.length = 0;
    this.bufferedEvents = 0;
    this.pendingLive.length = 0;
    this.replay = undefined;
    this.queue.push(
      compactRevision === undefined ? { canceled: reason } : { canceled: reason, compactRevision },
    );
    this.finished = true;
    this.onDone(this);
    this.wake?.();
  }

  private queueGroup(group: RevisionEvents): void {
    if (group.revision < this.nextRevision) return;
    this.nextRevision = group.revision + 1;
    const events = group.events.filter(
      (e) =>
        intervalContains(this.interval, keyString(e.kv.key)) &&
        !(e.type === "PUT" && this.noPut) &&
        !(e.type === "DELETE" && this.noDelete),
    );
    if (events.length === 0) return;
    if (this.queue.length > 0 && this.bufferedEvents + events.length > this.maxBufferedEvents) {
      this.cancelWith("slow consumer");
      return;
    }
    this.push({ revision: group.revision, events }, events.length);
  }

  private push(item: Queued, events: number): void {
    this.queue.push(item);
    this.bufferedEvents += events;
    this.wake?.();
  }

  private async take(): Promise<WatchResponse | undefined> {
    for (;;) {
      const item = this.queue.shift();
      if (item !== undefined) {
        if ("canceled" in item) {
          return item.compactRevision === undefined
            ? { kind: "canceled", watchId: this.id, reason: item.canceled }
            : {
                kind: "canceled",
                watchId: this.id,
                reason: item.canceled,
                compactRevision: item.compactRevision,
              };
        }
        if ("progress" in item)
          return { kind: "progress", watchId: this.id, header: { revision: item.progress } };
        this.bufferedEvents -= item.events.length;
        return {
          kind: "events",
          watchId: this.id,
          header: { revision: item.revision },
          events: await this.withPrevKv(item),
        };
      }
      if (this.finished) return undefined;
      if (this.replay !== undefined) {
        await this.replayStep(this.replay);
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  private async replayStep(replay: {
    from: { main: number; sub: number };
    to: number;
  }): Promise<void> {
    // Rows at or below the compacted revision may be gone: a replay it overtook is incomplete.
    if (replay.from.main <= this.source.compactRevision) {
      this.cancelWith("compacted", this.source.compactRevision);
      return;
    }
    const { groups, resumeAt } = await this.source.readHistory(
      replay.from,
      replay.to,
      this.replayPageRows,
    );
    if (this.finished) return;
    for (const group of groups) this.queueGroup(group);
    if (resumeAt !== undefined) {
      replay.from = resumeAt;
      return;
    }
    this.replay = undefined;
    this.nextRevision = Math.max(this.nextRevision, replay.to + 1);
    const pending = this.pendingLive.splice(0);
    for (const group of pending) this.bufferedEvents -= group.events.length;
    for (const group of pending) this.queueGroup(group);
    if (this.progressRequested && !this.finished) {
      this.progressRequested = false;
      this.push({ progress: this.source.currentRevision }, 0);
    }
  }

  private async withPrevKv(group: RevisionEvents): Promise<WatchEvent[]> {
    if (!this.wantPrevKv) return group.events.map((e) => ({ type: e.type, kv: e.kv }));
    const out: WatchEvent[] = [];
    for (const e of group.events) {
      const prevKv = await this.source.readKvAt(e.kv.key, group.revision - 1);
      out.push(
        prevKv === undefined ? { type: e.type, kv: e.kv } : { type: e.type, kv: e.kv, prevKv },
      );
    }
    return out;
  }
}

/** The store's set of watchers. */
export class WatchHub {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 1;

  constructor(
    private readonly source: WatchSource,
    private readonly maxBufferedEvents: number,
    private readonly replayPageRows: number,
    private readonly maxWatchers: number,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /**
   * A new watcher. Beyond `maxWatchers` (or when `refuse` names a reason) it is born canceled:
   * its only response says why.
   */
  watch(request: WatchRequest, refuse?: WatchCancelReason): Watcher {
    const id = this.nextId++;
    const watcher = new Watcher(
      id,
      request,
      this.source,
      this.maxBufferedEvents,
      this.replayPageRows,
      (w) => this.watchers.delete(w.id),
    );
    if (refuse !== undefined) watcher.cancelWith(refuse);
    else if (this.watchers.size >= this.maxWatchers) watcher.cancelWith("too many watchers");
    if (!watcher.canceled) this.watchers.set(id, watcher);
    return watcher;
  }

  /** Hands committed revisions to every watcher. */
  notify(groups: readonly RevisionEvents[]): void {
    if (groups.length === 0) return;
    for (const w of [...this.watchers.values()]) w.deliver(groups);
  }

  /** A progress notification to every watcher (the owner's bookmark ticker calls this). */
  progressAll(): void {
    for (const w of [...this.watchers.values()]) w.requestProgress();
  }

  cancelAll(reason: WatchCancelReason): void {
    for (const w of [...this.watchers.values()]) w.cancelWith(reason);
  }
}
