/**
 * The store's own history of the workload's keys: a watch from revision 1 over the key range
 * replays every put the state machine applied, in revision order, with its value. The run reads
 * it once the workload has stopped, up to the newest revision a linearizable read shows, so the
 * list is complete (bosun's MVCC history is never compacted unless asked to).
 */

import { type Clock, sleep } from "../../actors/system/clock.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import type { WatchResponse } from "../../raft/mvcc/watch-hub.ts";
import type { GetOp, HistoryRecorder } from "./history.ts";
import type { StoreWrite } from "./history-analysis.ts";

const POLL_MS = 20;
/** Most events read back: the history of a run is bounded by the workload's op limit. */
export const MAX_HISTORY_EVENTS = 2_000_000;

const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** The smallest key greater than every key starting with `prefix` (etcd's prefix range end). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every byte 0xff: to the end of the key space (etcd's "\0")
}

/** The client id final reads are recorded under (workload clients count from 1). */
export const FINAL_READ_CLIENT = 0;

/**
 * Reads every key under `prefix` once, linearizably, recording one get per key of `keys` in the
 * history (a range is read at one instant, so each key's get may take effect then); then every
 * put under `prefix` from revision 1 through the newest revision that read saw.
 */
export async function readStoreHistory(
  client: StoreClient,
  clock: Clock,
  recorder: HistoryRecorder,
  prefix: string,
  keys: readonly string[],
  timeoutMs: number,
): Promise<StoreWrite[]> {
  const key = Buffer.from(prefix);
  const rangeEnd = prefixEnd(key);
  const gets = keys.map((k) =>
    recorder.invoke<GetOp>({ op: "get", clientId: FINAL_READ_CLIENT, key: k }),
  );
  const now = await client.range({ key, rangeEnd });
  const current = new Map(now.kvs.map((kv) => [text(kv.key), text(kv.value)]));
  for (const get of gets) {
    const value = current.get(get.key);
    recorder.acked(get, value === undefined ? {} : { value });
  }
  const through = Math.max(0, ...now.kvs.map((kv) => kv.modRevision));
  const writes: StoreWrite[] = [];
  let seen = 0;
  let canceled: string | null = null;
  const onResponse = (r: WatchResponse) => {
    if (r.kind === "canceled") canceled = r.reason;
    if (r.kind !== "events") return;
    for (const e of r.events) {
      if (writes.length >= MAX_HISTORY_EVENTS) {
        canceled = `more than ${MAX_HISTORY_EVENTS} events`;
        return;
      }
      if (e.type === "PUT") {
        writes.push({ key: text(e.kv.key), value: text(e.kv.value), revision: e.kv.modRevision });
      }
      seen = Math.max(seen, e.kv.modRevision);
    }
  };
  const handle = await client.watch({ key, rangeEnd, startRevision: 1 }, onResponse);
  try {
    const deadline = clock.nowMs() + timeoutMs;
    while (seen < through) {
      if (canceled !== null) throw new Error(`history watch canceled: ${canceled}`);
      if (clock.nowMs() >= deadline) {
        throw new Error(`history watch reached revision ${seen} of ${through} in ${timeoutMs} ms`);
      }
      await sleep(clock, POLL_MS);
    }
  } finally {
    handle.cancel();
  }
  return writes;
}
