/**
 * Store watch events → Kubernetes watch events (the etcd3 watcher's transform): a put of a new
 * key is ADDED, of an existing key MODIFIED, a delete DELETED carrying the last state at the
 * delete's revision. With a selector, an object moving into the selection is ADDED and one
 * moving out DELETED, as the apiserver's filtered watch does.
 */

import type { WatchEvent } from "../../raft/mvcc/watch-hub.ts";
import type { ApiWatchEvent } from "../api/api-protocol.ts";
import type { JsonObject } from "../api/json.ts";
import { decodeObject } from "./storage-codec.ts";

/**
 * One change to one object, decoded: what a store watch event says, or what the watch cache
 * hands its watchers (the same objects it serves reads with, decoded once for every watcher).
 */
export interface ObjectChange {
  key: string;
  /** The change's revision. */
  revision: number;
  /** After a put: the object (resourceVersion = revision). Absent for a delete. */
  object?: JsonObject;
  /** Before the change, if the key existed: for a delete, stamped with the delete's revision. */
  previous?: JsonObject;
}

/** What an object watch delivers: changes in revision order, progress, or its end. */
export type ObjectWatchResponse =
  | { kind: "changes"; revision: number; changes: ObjectChange[] }
  | { kind: "progress"; revision: number }
  | { kind: "canceled"; reason: string; compactRevision?: number };

/** A store watch event (with prevKv) as an ObjectChange. */
export function decodeChange(event: WatchEvent): ObjectChange {
  const revision = event.kv.modRevision;
  const key = Buffer.from(event.kv.key).toString("utf8");
  const previous = event.prevKv
    ? decodeObject({
        key: event.kv.key,
        value: event.prevKv.value,
        modRevision: event.type === "DELETE" ? revision : event.prevKv.modRevision,
      })
    : undefined;
  if (event.type === "DELETE") return { key, revision, ...(previous ? { previous } : {}) };
  // a put that created its key has no previous object even if an older generation existed
  const created = event.kv.createRevision === revision;
  return {
    key,
    revision,
    object: decodeObject(event.kv),
    ...(previous && !created ? { previous } : {}),
  };
}

export function toApiWatchEvent(
  change: ObjectChange,
  matches: (object: JsonObject) => boolean,
): ApiWatchEvent | null {
  if (change.object === undefined) {
    const last = change.previous;
    return last && matches(last) ? { type: "DELETED", object: last } : null;
  }
  const current = change.object;
  const now = matches(current);
  if (change.previous === undefined) return now ? { type: "ADDED", object: current } : null;
  const before = matches(change.previous);
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
