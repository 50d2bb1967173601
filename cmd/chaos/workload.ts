/**
 * The chaos workload: K concurrent clients, each looping put/get on a small key space with
 * values unique across the run (`c<client>-<seq>`), every operation recorded in the history.
 * A small key space makes clients collide on keys, which is where lost or reordered writes
 * would show; unique values let the analysis tell every write apart in the store's history.
 *
 * One client is one store session (writes one at a time, exactly once across retries). After a
 * failed operation the worker opens a fresh session: the failed write may still be applied
 * later, and the old session would refuse the next seq while it is undecided.
 */

import { SeededRandom } from "../../actors/system/random.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import type { ChaosOp, HistoryRecorder } from "./history.ts";

/** What a worker needs from the store: one session's writes and linearizable reads. */
export interface WorkloadClient {
  /** Resolves with the revision the put was applied at; throws when its fate is unknown. */
  put(key: string, value: string): Promise<number>;
  /** A linearizable read: the key's value, or undefined when absent. */
  get(key: string): Promise<string | undefined>;
  close(): void;
}

export interface WorkloadOptions {
  clients: number;
  keys: number;
  recorder: HistoryRecorder;
  newClient: () => WorkloadClient;
  /** Fraction of operations that are puts. */
  putRatio?: number;
  seed?: number;
  /** The key of index i (default `chaos/kNN`). */
  keyName?: (i: number) => string;
}

export const MAX_WORKLOAD_CLIENTS = 256;
export const MAX_WORKLOAD_KEYS = 10_000;
export const CHAOS_KEY_PREFIX = "chaos/";

export function chaosKey(i: number): string {
  return `${CHAOS_KEY_PREFIX}k${String(i).padStart(3, "0")}`;
}

export class Workload {
  private stopping = false;
  private workers: Promise<void>[] = [];
  private readonly keyNames: string[];

  constructor(private readonly options: WorkloadOptions) {
    if (!(options.clients >= 1 && options.clients <= MAX_WORKLOAD_CLIENTS)) {
      throw new RangeError(`clients must be 1..${MAX_WORKLOAD_CLIENTS}, got ${options.clients}`);
    }
    if (!(options.keys >= 1 && options.keys <= MAX_WORKLOAD_KEYS)) {
      throw new RangeError(`keys must be 1..${MAX_WORKLOAD_KEYS}, got ${options.keys}`);
    }
    const name = options.keyName ?? chaosKey;
    this.keyNames = Array.from({ length: options.keys }, (_, i) => name(i));
  }

  get keys(): readonly string[] {
    return this.keyNames;
  }

  start(): void {
    const seed = this.options.seed ?? 1;
    this.workers = Array.from({ length: this.options.clients }, (_, i) =>
      this.runWorker(i + 1, new SeededRandom(seed * 7919 + i)),
    );
  }

  /**
   * Stops issuing operations; resolves once the operations in flight have returned. (A caller
   * that cannot wait that long stops waiting: what has not returned stays pending.)
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  private async runWorker(clientId: number, prng: SeededRandom): Promise<void> {
    const { recorder } = this.options;
    const putPermille = Math.round((this.options.putRatio ?? 0.5) * 1000);
    let client = this.options.newClient();
    let seq = 0;
    try {
      while (!this.stopping) {
        const key = this.keyNames[prng.intn(this.keyNames.length)]!;
        const op: ChaosOp =
          prng.intn(1000) < putPermille
            ? recorder.invoke({ op: "put", clientId, key, value: `c${clientId}-${++seq}` })
            : recorder.invoke({ op: "get", clientId, key });
        try {
          if (op.op === "put") {
            recorder.acked(op, { revision: await client.put(key, op.value) });
          } else {
            const value = await client.get(key);
            recorder.acked(op, value === undefined ? {} : { value });
          }
        } catch (error) {
          recorder.failed(op, error);
          client.close();
          client = this.options.newClient();
        }
      }
    } finally {
      client.close();
    }
  }
}

const enc = (s: string) => Buffer.from(s, "utf8");

/** Names every server in turn, for reads spread over all of them (followers included). */
export function roundRobinServers(servers: () => readonly string[]): () => string | undefined {
  let next = 0;
  return () => {
    const ids = servers();
    return ids.length === 0 ? undefined : ids[next++ % ids.length];
  };
}

/**
 * A workload client over a real store client (one session). With `readServer`, each get is
 * pinned to the server it names, followers included: a client's reads otherwise go where it
 * last wrote (the leader), and a follower's ReadIndex path would never be checked.
 */
export function storeWorkloadClient(
  store: StoreClient,
  readServer?: () => string | undefined,
): WorkloadClient {
  return {
    async put(key, value) {
      const response = await store.put(enc(key), enc(value));
      if (response.kind !== "put") throw new Error(`put answered ${JSON.stringify(response)}`);
      return response.header.revision;
    },
    async get(key) {
      const server = readServer?.();
      const response = await store.range({ key: enc(key) }, server === undefined ? {} : { server });
      const kv = response.kvs[0];
      return kv === undefined ? undefined : Buffer.from(kv.value).toString("utf8");
    },
    close() {
      store.close();
    },
  };
}
