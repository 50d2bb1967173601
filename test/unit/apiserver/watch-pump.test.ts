/**
 * The one watch pump (actors/apiserver/watch-pump.ts) behind both of its sinks — the HTTP
 * chunked stream and the `api.watch.event` tells of the internal API — fed by a store whose
 * watch the test drives: the same scenario must give the same events on both.
 *
 * - Bookmarks carry the latest revision the watch has seen: a single-object watch that skips
 *   other objects' changes still moves its bookmark past them.
 * - `sendInitialEvents=true` ends its initial events with a BOOKMARK annotated
 *   `k8s.io/initial-events-end: "true"` at the revision of the state they showed (KEP-3157).
 * - Compaction ends a watch with ERROR 410 Expired on both.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { setup } from "xstate";
import {
  API_WATCH_EVENT_KIND,
  type ApiWatchEvent,
  type ApiWatchMessage,
  watchEventOf,
} from "../../../actors/api/api-protocol.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { resourceByPlural } from "../../../actors/api/resources.ts";
import { ApiOperations } from "../../../actors/apiserver/api-operations.ts";
import type { ListQuery } from "../../../actors/apiserver/list-options.ts";
import { objectKey } from "../../../actors/apiserver/registry-keys.ts";
import { ResourceHandler } from "../../../actors/apiserver/resource-handler.ts";
import type { ObjectWatchResponse } from "../../../actors/apiserver/watch-events.ts";
import {
  BOOKMARK_INTERVAL_MS,
  INITIAL_EVENTS_END_ANNOTATION,
} from "../../../actors/apiserver/watch-pump.ts";
import { type WatchResponse, WatchStreamSink } from "../../../actors/apiserver/watch-stream.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { ActorMessage } from "../../../actors/system/message.ts";
import type { WatchHandle } from "../../../raft/client/store-client.ts";
import { tokenIdentity } from "../../../transport/peer-identity.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";

const CONFIGMAPS = resourceByPlural("configmaps")!;
const key = (name: string) => objectKey(CONFIGMAPS, "default", name);
const configMap = (name: string): JsonObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default" },
});

/** A memory store whose watches the test feeds, as the watch cache or the store would. */
class DrivenStore extends MemoryObjectStore {
  readonly watches: {
    prefix: string;
    startRevision: number;
    respond: (r: ObjectWatchResponse) => void;
    progressAsked: number;
    canceled: boolean;
  }[] = [];

  override async watch(
    prefix: string,
    startRevision: number,
    onResponse: (r: ObjectWatchResponse) => void,
  ): Promise<WatchHandle> {
    const watch = { prefix, startRevision, respond: onResponse, progressAsked: 0, canceled: false };
    this.watches.push(watch);
    return {
      cancel: () => {
        watch.canceled = true;
      },
      requestProgress: () => {
        watch.progressAsked++;
      },
    };
  }

  /** Sends `response` to every open watch. */
  respond(response: ObjectWatchResponse): void {
    for (const w of this.watches) if (!w.canceled) w.respond(response);
  }
}

/** A ServerResponse stand-in that keeps what the stream wrote. */
class RecordedResponse implements WatchResponse {
  headersSent = false;
  writableLength = 0;
  text = "";
  finished = false;
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
  flushHeaders(): void {}
  cork(): void {}
  uncork(): void {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): this {
    this.finished = true;
    return this;
  }
}

interface Watched {
  events: () => ApiWatchEvent[];
  ended: () => boolean;
  end: () => void;
}

type SinkKind = "http" | "actor";

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A test bench: one store, one handler, and a watch through the sink of `kind`. */
async function bench(kind: SinkKind) {
  const clock = new ManualClock(0, Date.parse("2024-05-01T10:00:00Z"));
  const store = new DrivenStore();
  await store.create(objectKey(resourceByPlural("namespaces")!, null, "default"), {}, null);
  const handler = new ResourceHandler(store, clock);
  const watch = async (name: string | null, query: ListQuery): Promise<Watched> => {
    if (kind === "http") {
      const res = new RecordedResponse();
      const sink = new WatchStreamSink(res, clock, "ConfigMap", false);
      const request = { resource: CONFIGMAPS, namespace: "default", name, subresource: null };
      const pump = handler.openWatch({ ...request, verb: "watch" }, query, sink);
      await pump.start();
      return {
        events: () =>
          res.text
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => JSON.parse(l) as ApiWatchEvent),
        ended: () => res.finished,
        end: () => pump.end(),
      };
    }
    const system = new ActorSystem({ nodeId: "n1", clock, logger: pino({ level: "silent" }) });
    const received: ApiWatchEvent[] = [];
    const subscriber = setup({
      types: { events: {} as ActorMessage<typeof API_WATCH_EVENT_KIND, ApiWatchMessage> },
    }).createMachine({
      on: {
        [API_WATCH_EVENT_KIND]: {
          actions: ({ event }) => received.push(watchEventOf(event.body)),
        },
      },
    });
    system.spawn("subscriber", subscriber);
    const ops = new ApiOperations({ system, handler });
    const status = await ops.watch(
      "n1/subscriber",
      "t",
      {
        resource: "configmaps",
        namespace: "default",
        ...(name !== null ? { name } : {}),
        ...query,
      },
      { from: "n1/subscriber", peer: tokenIdentity("n1"), declared: null },
    );
    if (status !== null) throw new ApiError(status);
    return {
      events: () => received,
      ended: () => !ops.hasWatch("n1/subscriber", "t"),
      end: () => ops.cancelWatch("n1/subscriber", "t"),
    };
  };
  return { clock, store, watch };
}

const revisionOf = (e: ApiWatchEvent | undefined) =>
  Number((e?.object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion);
const bookmarks = (events: ApiWatchEvent[]) => events.filter((e) => e.type === "BOOKMARK");

describe.each<SinkKind>(["http", "actor"])("the watch pump, %s sink", (kind) => {
  it("a single-object watch's bookmark moves past other objects' changes", async () => {
    const b = await bench(kind);
    const web = await b.store.create(key("web"), configMap("web"), null);
    if (web.kind !== "ok") throw new Error("create failed");
    const w = await b.watch("web", {
      resourceVersion: String(web.revision),
      allowWatchBookmarks: true,
    });
    // web2 shares web's key as a prefix: the watch is handed its change and must skip it
    b.store.respond({
      kind: "changes",
      revision: 10,
      changes: [{ key: key("web2"), revision: 10, object: configMap("web2") }],
    });
    b.clock.advance(BOOKMARK_INTERVAL_MS);
    expect(b.store.watches[0]?.progressAsked).toBe(1);
    // a progress answer that says less than the watch has already seen
    b.store.respond({ kind: "progress", revision: 9 });
    await settle();
    const events = w.events();
    expect(events.filter((e) => e.type !== "BOOKMARK")).toEqual([]);
    expect(bookmarks(events).map(revisionOf)).toEqual([10]);
    w.end();
    await settle();
    expect(w.ended()).toBe(true);
    expect(b.store.watches[0]?.canceled).toBe(true);
  });

  it("sendInitialEvents=true ends the initial events with an initial-events-end bookmark", async () => {
    const b = await bench(kind);
    await b.store.create(key("a"), configMap("a"), null);
    await b.store.create(key("b"), configMap("b"), null);
    const listRevision = b.store.revision;
    const w = await b.watch(null, {
      sendInitialEvents: true,
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: true,
    });
    await settle();
    const events = w.events();
    expect(events.map((e) => e.type)).toEqual(["ADDED", "ADDED", "BOOKMARK"]);
    expect(events.slice(0, 2).map((e) => (e.object.metadata as { name: string }).name)).toEqual([
      "a",
      "b",
    ]);
    expect(events[2]?.object).toEqual({
      kind: "ConfigMap",
      apiVersion: "v1",
      metadata: {
        resourceVersion: String(listRevision),
        annotations: { [INITIAL_EVENTS_END_ANNOTATION]: "true" },
      },
    });
    // the watch goes on from right after the state it showed
    expect(b.store.watches[0]?.startRevision).toBe(listRevision + 1);
  });

  it('without sendInitialEvents: initial events for resourceVersion "" but no end marker; sendInitialEvents=false: none', async () => {
    const b = await bench(kind);
    await b.store.create(key("a"), configMap("a"), null);
    const legacy = await b.watch(null, { allowWatchBookmarks: true });
    const none = await b.watch(null, {
      sendInitialEvents: false,
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: true,
    });
    await settle();
    expect(legacy.events().map((e) => e.type)).toEqual(["ADDED"]);
    expect(none.events()).toEqual([]);
    expect(b.store.watches.map((w) => w.startRevision)).toEqual([
      b.store.revision + 1,
      b.store.revision + 1,
    ]);
  });

  it("a compacted start revision ends the watch with ERROR 410 Expired", async () => {
    const b = await bench(kind);
    const w = await b.watch(null, { resourceVersion: "3" });
    b.store.respond({ kind: "canceled", reason: "compacted", compactRevision: 7 });
    await settle();
    expect(w.events()).toEqual([
      {
        type: "ERROR",
        object: expect.objectContaining({
          code: 410,
          reason: "Expired",
          message: "too old resource version: 3 (7)",
        }),
      },
    ]);
    expect(w.ended()).toBe(true);
  });
});

describe("watch options", () => {
  it("sendInitialEvents needs resourceVersionMatch=NotOlderThan, which needs sendInitialEvents (422)", async () => {
    for (const kind of ["http", "actor"] as const) {
      const b = await bench(kind);
      for (const query of [
        { sendInitialEvents: true },
        { resourceVersionMatch: "NotOlderThan" },
        { sendInitialEvents: true, resourceVersionMatch: "Exact" },
      ]) {
        const refused = await b.watch(null, query).then(
          () => null,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(ApiError);
        expect((refused as ApiError).status.code).toBe(422);
      }
    }
  });

  it("the HTTP stream ends quietly when the store cancels the watch; an actor is told with an ERROR", async () => {
    const http = await bench("http");
    const streamed = await http.watch(null, { resourceVersion: "1" });
    http.store.respond({ kind: "canceled", reason: "restored" });
    expect(streamed.events()).toEqual([]);
    expect(streamed.ended()).toBe(true);

    const actor = await bench("actor");
    const told = await actor.watch(null, { resourceVersion: "1" });
    actor.store.respond({ kind: "canceled", reason: "restored" });
    await settle();
    expect(told.events()).toEqual([
      { type: "ERROR", object: expect.objectContaining({ code: 500 }) },
    ]);
    expect(told.ended()).toBe(true);
  });
});
