/**
 * The store actor's answers on a server: writes through the replica, reads from the local MVCC
 * store behind a ReadIndex barrier (or straight, when the caller accepts a serializable read),
 * watches pumped from the local store to the subscriber as `kv.watch.event` tells.
 */
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import type { CommandEnvelope } from "../mvcc/commands.ts";
import type { MvccStore, RangeRequest } from "../mvcc/store.ts";
import type { Watcher, WatchRequest } from "../mvcc/watch-hub.ts";
import type { Replica } from "./replica.ts";
import type { StorePort } from "./store-service.ts";

export const STORE_ACTOR = "store";
export const WATCH_EVENT_KIND = "kv.watch.event";
/** Watches one server serves at once (each holds a buffer in the store's watch hub). */
export const MAX_WATCHES_PER_SERVER = 10_000;

export class ReplicaStorePort implements StorePort {
  private readonly watches = new Map<string, Watcher>();

  constructor(
    private readonly system: ActorSystem,
    private readonly replica: Replica,
    private readonly store: MvccStore,
  ) {}

  async propose(envelope: CommandEnvelope) {
    const outcome = await this.replica.propose(envelope);
    return { outcome, leader: this.replica.softState().lead };
  }

  async range(request: RangeRequest, serializable: boolean) {
    if (!serializable) await this.replica.linearizableBarrier();
    return this.store.range(request);
  }

  watch(subscriber: string, tag: string, request: WatchRequest): void {
    if (this.watches.size >= MAX_WATCHES_PER_SERVER) {
      throw new Error(`too many watches on ${this.system.nodeId} (${MAX_WATCHES_PER_SERVER})`);
    }
    const key = `${subscriber}#${tag}`;
    if (this.watches.has(key)) throw new Error(`watch ${tag} of ${subscriber} already exists`);
    const watcher = this.store.watch(request);
    this.watches.set(key, watcher);
    void this.pump(subscriber, tag, watcher);
  }

  cancelWatch(subscriber: string, tag: string): boolean {
    const key = `${subscriber}#${tag}`;
    const watcher = this.watches.get(key);
    if (watcher === undefined) return false;
    this.watches.delete(key);
    watcher.cancel();
    return true;
  }

  requestProgress(subscriber: string, tag: string): boolean {
    const watcher = this.watches.get(`${subscriber}#${tag}`);
    watcher?.requestProgress();
    return watcher !== undefined;
  }

  status() {
    return this.replica.status();
  }

  /** Cancels every watch (the node is stopping). */
  stop(): void {
    for (const watcher of this.watches.values()) watcher.cancel();
    this.watches.clear();
  }

  private async pump(subscriber: string, tag: string, watcher: Watcher): Promise<void> {
    const from = this.system.address(STORE_ACTOR);
    const key = `${subscriber}#${tag}`;
    for (;;) {
      const response = await watcher.next();
      if (response === undefined) break;
      const sent = this.system.tell(from, subscriber, WATCH_EVENT_KIND, { tag, response });
      if (!sent.ok || response.kind === "canceled") break;
    }
    watcher.cancel();
    if (this.watches.get(key) === watcher) this.watches.delete(key);
  }
}
