/**
 * An in-memory list/watch source for informer tests: a revision counter, an event history the
 * watches replay from, compaction (watches from before it end with 410 Gone) and broken
 * connections, all under the test's control.
 */

import type { ApiWatchEvent, ListRequest, WatchRequest } from "../../../actors/api/api-protocol.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { goneStatus } from "../../../actors/api/status.ts";
import type {
  ApiWatchHandle,
  ApiWatchHandlers,
  ListWatcher,
  ObjectList,
} from "../../../actors/client/api-client.ts";
import { ApiError } from "../../../actors/client/errors.ts";

interface FakeWatch {
  handlers: ApiWatchHandlers;
  open: boolean;
}

export class FakeListWatcher implements ListWatcher {
  revision = 10;
  private compactedAt = 0;
  private readonly objects = new Map<string, JsonObject>();
  private readonly history: { revision: number; event: ApiWatchEvent }[] = [];
  private readonly watches: FakeWatch[] = [];
  readonly lists: ListRequest[] = [];
  readonly watchRequests: WatchRequest[] = [];
  failNextLists = 0;

  put(name: string, data: Record<string, string>): void {
    const rev = ++this.revision;
    const existed = this.objects.has(name);
    const object: JsonObject = {
      kind: "ConfigMap",
      metadata: { name, namespace: "default", resourceVersion: String(rev) },
      data,
    };
    this.objects.set(name, object);
    this.emit(rev, { type: existed ? "MODIFIED" : "ADDED", object });
  }

  remove(name: string): void {
    const old = this.objects.get(name);
    if (!old) return;
    const rev = ++this.revision;
    this.objects.delete(name);
    const object = {
      ...old,
      metadata: { ...(old.metadata as JsonObject), resourceVersion: String(rev) },
    };
    this.emit(rev, { type: "DELETED", object });
  }

  /** Writes that no watch sees (as if made while the informer was cut off), then compaction. */
  quietly(change: () => void): void {
    const open = this.watches.filter((w) => w.open);
    for (const w of open) w.open = false;
    change();
    for (const w of open) w.open = true;
  }

  /** Compacts the history: open watches end with 410, and so does any watch from before. */
  compact(): void {
    this.compactedAt = this.revision;
    this.history.length = 0;
    for (const w of this.watches.filter((x) => x.open)) {
      w.open = false;
      w.handlers.closed(new ApiError(goneStatus("too old resource version")));
    }
  }

  /** The server serving the watches is lost. */
  breakWatches(): void {
    for (const w of this.watches.filter((x) => x.open)) {
      w.open = false;
      w.handlers.closed(new Error("connection to n1 lost"));
    }
  }

  openWatches(): number {
    return this.watches.filter((w) => w.open).length;
  }

  async list(request: ListRequest): Promise<ObjectList> {
    this.lists.push(request);
    if (this.failNextLists > 0) {
      this.failNextLists--;
      throw new Error("api unavailable");
    }
    // pages as the API server cuts them: `limit` items, a continue token for the rest
    const all = [...this.objects.values()];
    const from = Number(request.continue ?? "0");
    const to = request.limit ? from + request.limit : all.length;
    const metadata: ObjectList["metadata"] = { resourceVersion: String(this.revision) };
    if (to < all.length) metadata.continue = String(to);
    return { kind: "ConfigMapList", apiVersion: "v1", metadata, items: all.slice(from, to) };
  }

  async watch(request: WatchRequest, handlers: ApiWatchHandlers): Promise<ApiWatchHandle> {
    this.watchRequests.push(request);
    const from = Number(request.resourceVersion ?? "0");
    const watch: FakeWatch = { handlers, open: true };
    this.watches.push(watch);
    if (from < this.compactedAt) {
      watch.open = false;
      queueMicrotask(() => handlers.closed(new ApiError(goneStatus())));
    } else {
      for (const h of this.history) if (h.revision > from) handlers.event(h.event);
    }
    return {
      cancel: () => {
        watch.open = false;
      },
    };
  }

  private emit(revision: number, event: ApiWatchEvent): void {
    this.history.push({ revision, event });
    for (const w of this.watches) if (w.open) w.handlers.event(event);
  }
}
