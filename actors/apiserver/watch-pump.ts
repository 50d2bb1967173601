/**
 * One watch, pumped from the object store to a sink: the HTTP chunked stream (watch-stream.ts)
 * or `api.watch.event` tells to an actor (api-operations.ts). Both get the same events; only
 * how they travel differs (kube-apiserver's cacheWatcher feeding either a serializer or, here, an
 * actor).
 *
 *   initial events? ──▶ store watch from the start revision ──▶ changes, bookmarks ──▶ end
 *
 * The start, as ListOptions say it: with `sendInitialEvents` (by default when resourceVersion is
 * "" or "0") an ADDED event per current object first ("Get State and Start at Most Recent", or
 * at least as new as the resourceVersion), then the changes after that state; otherwise the
 * changes after resourceVersion (exclusive), or after now when there is none.
 *
 * Bookmarks (`allowWatchBookmarks`): every BOOKMARK_INTERVAL_MS the watch asks the store for
 * progress (etcd's RequestProgress) and sends a BOOKMARK at the latest revision it has seen — a
 * change to any key it was handed counts, even one a single-object watch skips, so a quiet
 * object's bookmark still moves with the cluster. With `sendInitialEvents=true` the initial
 * events end with a BOOKMARK annotated `k8s.io/initial-events-end: "true"` at the revision of
 * the state they showed (KEP-3157's watch-list). Just before a timeout, one last BOOKMARK.
 *
 * It ends with an ERROR 410 Expired event when its start revision was compacted (what the
 * cacher says: "too old resource version"), after `timeoutSeconds`, when the sink cannot take
 * more, or when the client ends it.
 */
import type { WatchHandle } from "../../raft/client/store-client.ts";
import type { ApiWatchEvent } from "../api/api-protocol.ts";
import { asObject, type JsonObject } from "../api/json.ts";
import { apiVersionOf, type ResourceInfo } from "../api/resources.ts";
import { internalErrorStatus, resourceExpiredStatus, type Status } from "../api/status.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import { type ListOptions, objectFilter } from "./list-options.ts";
import type { ObjectStore } from "./object-store.ts";
import { collectionPrefix, objectKey } from "./registry-keys.ts";
import { triggerOf } from "./watch-cache.ts";
import { bookmarkEvent, type ObjectWatchResponse, toApiWatchEvent } from "./watch-events.ts";

/**
 * How often a watch that asked for bookmarks gets one. kube-apiserver sends one about once a
 * minute; bosun's are cheap (a progress answer from the watch cache), and a resuming informer
 * then replays at most a few seconds of history.
 */
export const BOOKMARK_INTERVAL_MS = 5_000;

/** Marks the end of a watch's initial events (metav1.InitialEventsAnnotationKey). */
export const INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end";

/** Where a watch's events go. */
export interface WatchSink {
  /** Delivers one event; false when the client can take no more (the watch then ends). */
  send(event: ApiWatchEvent): boolean;
  /**
   * The watch ended, once, whatever ended it. `error` is set when it ended for a reason the
   * events have not said (the store canceled it): a stream's end says enough over HTTP, an
   * actor needs to be told.
   */
  closed(error: Status | null): void;
}

/** What is watched: a collection (of one namespace, or all), or one object by name. */
export interface WatchTarget {
  resource: ResourceInfo;
  namespace: string | null;
  name: string | null;
}

export class WatchPump {
  private handle: WatchHandle | null = null;
  private timeoutTimer: TimerId | null = null;
  private bookmarkTimer: TimerId | null = null;
  private ended = false;
  /** The latest revision this watch has read everything up to. */
  private caughtUp = 0;
  /** The first revision the store watch asked for. */
  private startRevision = 0;
  private readonly prefix: string;
  private readonly filter: (object: JsonObject) => boolean;
  private readonly apiVersion: string;

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly target: WatchTarget,
    private readonly options: ListOptions,
    private readonly sink: WatchSink,
  ) {
    const r = target.resource;
    this.prefix =
      target.name !== null
        ? objectKey(r, target.namespace, target.name)
        : collectionPrefix(r, target.namespace);
    const selected = objectFilter(r, options);
    const name = target.name;
    // a single object's key is also the prefix of longer names: those are not this object
    this.filter =
      name === null ? selected : (o) => asObject(o.metadata).name === name && selected(o);
    this.apiVersion = apiVersionOf(r);
  }

  /**
   * Sends the initial events (if any) and opens the store watch. Rejects when the watch cannot
   * start (the store does not answer): the pump has then ended without closing the sink, whose
   * owner answers with the error instead.
   */
  async start(): Promise<void> {
    try {
      this.startRevision = await this.initialEvents();
      this.caughtUp = this.startRevision - 1;
      if (this.ended) return;
      if (this.options.timeoutSeconds !== null)
        this.timeoutTimer = this.clock.setTimeout(() => {
          this.bookmark();
          this.end();
        }, this.options.timeoutSeconds * 1000);
      if (this.options.allowWatchBookmarks)
        this.bookmarkTimer = this.clock.setTimeout(this.bookmarkTick, BOOKMARK_INTERVAL_MS);
      const single = this.target.name !== null;
      const handle = await this.store.watch(
        this.prefix,
        this.startRevision,
        (response) => this.onResponse(response, single),
        triggerOf(this.options.fieldSelector),
      );
      if (this.ended) handle.cancel();
      else this.handle = handle;
    } catch (error) {
      this.ended = true;
      this.stopTimers();
      throw error;
    }
  }

  /** Ends the watch (the client canceled or went away, the server stops). */
  end(): void {
    this.finish(null);
  }

  /** The initial ADDED events and their closing bookmark; returns the first revision to watch. */
  private async initialEvents(): Promise<number> {
    const { resourceVersion, sendInitialEvents } = this.options;
    const fromNow = resourceVersion === "" || resourceVersion === "0";
    if (!(sendInitialEvents ?? fromNow)) {
      if (!fromNow) return Number(resourceVersion) + 1;
      return (await this.store.currentRevision()) + 1;
    }
    // a linearizable list is at least as new as any resourceVersion the client can have seen
    const page = await this.store.list(this.prefix, { serializable: resourceVersion === "0" });
    for (const object of page.items) {
      if (this.ended) break;
      if (this.filter(object)) this.send({ type: "ADDED", object });
    }
    if (sendInitialEvents === true && this.options.allowWatchBookmarks) {
      const end = bookmarkEvent(this.apiVersion, this.target.resource.kind, page.revision);
      end.object.metadata = {
        ...asObject(end.object.metadata),
        annotations: { [INITIAL_EVENTS_END_ANNOTATION]: "true" },
      };
      this.send(end);
    }
    return page.revision + 1;
  }

  private onResponse(response: ObjectWatchResponse, single: boolean): void {
    if (this.ended) return;
    if (response.kind === "changes") {
      for (const change of response.changes) {
        // read, even when not this watch's object: the bookmark may move past it
        this.caughtUp = Math.max(this.caughtUp, change.revision);
        if (single && change.key !== this.prefix) continue;
        const event = toApiWatchEvent(change, this.filter);
        if (event !== null) this.send(event);
      }
    } else if (response.kind === "progress") {
      this.caughtUp = Math.max(this.caughtUp, response.revision);
      this.bookmark();
    } else if (response.reason === "compacted") {
      const compacted = response.compactRevision ?? 0;
      const expired = resourceExpiredStatus(
        `too old resource version: ${this.startRevision - 1} (${compacted})`,
      );
      this.send({ type: "ERROR", object: expired as unknown as JsonObject });
      this.finish(null);
    } else {
      this.finish(internalErrorStatus(`watch canceled: ${response.reason}`));
    }
  }

  /** Asks the store for progress (its answer sends the bookmark); before the watch is open, now. */
  private readonly bookmarkTick = (): void => {
    this.bookmarkTimer = null;
    if (this.ended) return;
    if (this.handle !== null) this.handle.requestProgress();
    else this.bookmark();
    this.bookmarkTimer = this.clock.setTimeout(this.bookmarkTick, BOOKMARK_INTERVAL_MS);
  };

  private bookmark(): void {
    if (this.options.allowWatchBookmarks)
      this.send(bookmarkEvent(this.apiVersion, this.target.resource.kind, this.caughtUp));
  }

  private send(event: ApiWatchEvent): void {
    if (this.ended) return;
    if (!this.sink.send(event)) this.finish(null);
  }

  private finish(error: Status | null): void {
    if (this.ended) return;
    this.ended = true;
    this.handle?.cancel();
    this.stopTimers();
    this.sink.closed(error);
  }

  private stopTimers(): void {
    if (this.timeoutTimer !== null) this.clock.clearTimeout(this.timeoutTimer);
    if (this.bookmarkTimer !== null) this.clock.clearTimeout(this.bookmarkTimer);
    this.timeoutTimer = null;
    this.bookmarkTimer = null;
  }
}
