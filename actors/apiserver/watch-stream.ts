/**
 * A watch over HTTP: a chunked stream of JSON watch events, one per line (what client-go's
 * StreamWatcher reads). Starts from `resourceVersion` (exclusive), or, without one, with an
 * ADDED event per existing object first. Ends with an ERROR 410 event when the revision is
 * compacted (410 Expired, as kube-apiserver says it), and after `timeoutSeconds`.
 *
 * Bookmarks (`allowWatchBookmarks=true`): every BOOKMARK_INTERVAL_MS the watch asks the store
 * for progress (etcd's RequestProgress), and the BOOKMARK carries the store revision the answer
 * brings: every event up to it has been read, so a quiet prefix's bookmark still moves with the
 * cluster, as kube-apiserver's do. Just before the watch times out, a BOOKMARK at what it has
 * read so far.
 *
 * Events written in one turn of the event loop leave in one write (the response is corked until
 * the next tick): a busy watch costs one TLS record and one syscall per turn, not per event.
 */

import type { ServerResponse } from "node:http";
import type { WatchHandle } from "../../raft/client/store-client.ts";
import type { ApiWatchEvent } from "../api/api-protocol.ts";
import { apiVersionOf } from "../api/resources.ts";
import { resourceExpiredStatus } from "../api/status.ts";
import { buildTable } from "../api/table.ts";
import type { Clock } from "../system/clock.ts";
import { toJson } from "./cache-index.ts";
import { objectFilter, parseListOptions } from "./list-options.ts";
import type { ObjectStore } from "./object-store.ts";
import { collectionPrefix, objectKey } from "./registry-keys.ts";
import type { RequestInput } from "./resource-handler.ts";
import { wantsTable } from "./resource-handler.ts";
import { triggerOf } from "./watch-cache.ts";
import { bookmarkEvent, toApiWatchEvent } from "./watch-events.ts";

/** Kubernetes' default watch timeout is 30–60 min; kubectl sets its own. */
const DEFAULT_WATCH_TIMEOUT_S = 1800;
/** kube-apiserver sends a bookmark about once a minute; bosun's are cheaper to wait for. */
export const BOOKMARK_INTERVAL_MS = 5_000;
/**
 * A client that lets this much pile up unread is dropped (it re-watches from its last
 * resourceVersion), as kube-apiserver's cacher drops watchers that cannot keep up.
 */
export const MAX_WATCH_BUFFERED_BYTES = 16 * 1024 * 1024;

export async function serveWatch(
  store: ObjectStore,
  clock: Clock,
  input: RequestInput,
  res: ServerResponse,
  onClose: (fn: () => void) => void,
): Promise<void> {
  const r = input.request.resource;
  const options = parseListOptions(r, input.query);
  const filter = objectFilter(r, options);
  const name =
    input.request.name ??
    input.query.get("fieldSelector")?.match(/^metadata\.name=([^,]+)$/)?.[1] ??
    null;
  const prefix =
    input.request.name !== null
      ? objectKey(r, input.request.namespace, input.request.name)
      : collectionPrefix(r, input.request.namespace);
  const table = wantsTable(input.accept);
  const apiVersion = apiVersionOf(r);
  let ended = false;
  res.writeHead(200, {
    "content-type": "application/json",
    "transfer-encoding": "chunked",
    "cache-control": "no-cache, private",
  });
  res.flushHeaders();
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  const send = (e: ApiWatchEvent) => {
    if (ended) return;
    const object =
      table && e.type !== "BOOKMARK" && e.type !== "ERROR"
        ? buildTable(r.kind, [e.object], { nowMs: clock.wallMs(), includeObject: "Metadata" })
        : e.object;
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    res.write(`{"type":${JSON.stringify(e.type)},"object":${toJson(object)}}\n`);
  };
  let startRevision: number;
  if (options.resourceVersion === "" || options.resourceVersion === "0") {
    // "Get State and Start at Most Recent": the current objects as ADDED, then changes after.
    const page = await store.list(prefix, { serializable: options.resourceVersion === "0" });
    for (const obj of page.items) {
      if (filter(obj) && (name === null || (obj.metadata as { name?: string }).name === name))
        send({ type: "ADDED", object: obj });
    }
    startRevision = page.revision + 1;
    if (options.allowWatchBookmarks && options.sendInitialEvents)
      send(bookmarkEvent(apiVersion, r.kind, page.revision));
  } else {
    startRevision = Number(options.resourceVersion) + 1;
  }
  let handle: WatchHandle | null = null;
  let timer: ReturnType<Clock["setTimeout"]> | null = null;
  let bookmarkTimer: ReturnType<Clock["setTimeout"]> | null = null;
  /** The revision this watch has read everything up to. */
  let caughtUp = startRevision - 1;
  const bookmark = () => {
    if (options.allowWatchBookmarks) send(bookmarkEvent(apiVersion, r.kind, caughtUp));
  };
  const end = () => {
    if (ended) return;
    ended = true;
    handle?.cancel();
    if (timer !== null) clock.clearTimeout(timer);
    if (bookmarkTimer !== null) clock.clearTimeout(bookmarkTimer);
    res.end();
  };
  onClose(end);
  timer = clock.setTimeout(
    () => {
      bookmark();
      end();
    },
    (options.timeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_S) * 1000,
  );
  if (options.allowWatchBookmarks) {
    const tick = () => {
      // the store's progress answer sends the bookmark (below); before the watch is open, now
      if (handle !== null) handle.requestProgress();
      else bookmark();
      if (!ended) bookmarkTimer = clock.setTimeout(tick, BOOKMARK_INTERVAL_MS);
    };
    bookmarkTimer = clock.setTimeout(tick, BOOKMARK_INTERVAL_MS);
  }
  const single = input.request.name !== null;
  handle = await store.watch(
    prefix,
    startRevision,
    (response) => {
      if (response.kind === "changes") {
        for (const change of response.changes) {
          caughtUp = Math.max(caughtUp, change.revision);
          if (single && change.key !== prefix) continue;
          const out = toApiWatchEvent(change, filter);
          if (out) send(out);
        }
        if (res.writableLength > MAX_WATCH_BUFFERED_BYTES) end();
      } else if (response.kind === "progress") {
        caughtUp = Math.max(caughtUp, response.revision);
        bookmark();
      } else if (response.kind === "canceled") {
        if (response.reason === "compacted")
          send({
            type: "ERROR",
            object: resourceExpiredStatus(
              `too old resource version: ${startRevision - 1} (${response.compactRevision ?? 0})`,
            ) as unknown as ApiWatchEvent["object"],
          });
        end();
      }
    },
    triggerOf(options.fieldSelector),
  );
  if (ended) handle.cancel();
}
