/**
 * Store watch events → Kubernetes watch events (the etcd3 watcher's transform): a put of a new
 * key is ADDED, of an existing key MODIFIED, a delete DELETED carrying the last state at the
 * delete's revision. With a selector, an object moving into the selection is ADDED and one
 * moving out DELETED, as the apiserver's filtered watch does.
 */

import type { WatchEvent } from "../../raft/mvcc/watch-hub.ts";
import type { JsonObject } from "../api/json.ts";
import { decodeObject } from "./object-store.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface ApiWatchEvent {
  type: WatchEventType;
  object: JsonObject;
}

export function toApiWatchEvent(
  event: WatchEvent,
  matches: (object: JsonObject) => boolean,
): ApiWatchEvent | null {
  if (event.type === "DELETE") {
    if (!event.prevKv) return null;
    const last = decodeObject({ value: event.prevKv.value, modRevision: event.kv.modRevision });
    return matches(last) ? { type: "DELETED", object: last } : null;
  }
  const current = decodeObject(event.kv);
  const isNew = event.kv.createRevision === event.kv.modRevision || !event.prevKv;
  const now = matches(current);
  if (isNew) return now ? { type: "ADDED", object: current } : null;
  const before = matches(decodeObject(event.prevKv as NonNullable<WatchEvent["prevKv"]>));
  if (now && before) return { type: "MODIFIED", object: current };
  if (now) return { type: "ADDED", object: current };
  if (before) return { type: "DELETED", object: current };
  return null;
}

/** A BOOKMARK: only the kind and the resourceVersion the watch has reached. */
export function bookmarkEvent(apiVersion: string, kind: string, revision: number): ApiWatchEvent {
  return {
    type: "BOOKMARK",
    object: { kind, apiVersion, metadata: { resourceVersion: String(revision) } },
  };
}
