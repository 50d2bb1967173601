/**
 * An informer (client-go's SharedInformer / controller-runtime's cache): lists a resource
 * (optionally one namespace, a label or field selector) into a local cache, then watches from
 * the list's resourceVersion and keeps the cache current, calling add/update/delete handlers.
 *
 *   listing ──listed──▶ watching ──410 Gone──▶ relisting ──listed──▶ watching
 *      │                   │  ▲                    │
 *      └──failed──▶ backoff ◀─┘ └──(resume from the last seen resourceVersion)
 *
 * - A watch that fails for any other reason (server lost, link down) resumes after a backoff
 *   from the last resourceVersion seen, so no event is delivered twice or missed.
 * - 410 Gone (the revision was compacted) relists; the cache diff emits what was missed.
 * - Every `resyncPeriodMs` (0 = never) every cached object is re-delivered as an update.
 * Timers are the actor's clock's (xstate `after`), so a test drives it with a ManualClock.
 */

import { type AnyActorRef, assign, createActor, fromCallback, fromPromise, setup } from "xstate";
import type { ApiWatchEvent, ListRequest, WatchRequest } from "../api/api-protocol.ts";
import type { JsonObject } from "../api/json.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import type { ListWatcher, ObjectList } from "./api-client.ts";
import { isGone } from "./errors.ts";
import {
  InformerCache,
  type InformerHandlers,
  isNewerVersion,
  resourceVersionOf,
} from "./informer-cache.ts";

export const INFORMER_BACKOFF_INITIAL_MS = 100;
export const INFORMER_BACKOFF_MAX_MS = 5_000;

/** What an informer follows. */
export interface InformerTarget {
  resource: string;
  namespace?: string | null;
  labelSelector?: string;
  fieldSelector?: string;
}

interface InformerContext {
  source: ListWatcher;
  target: InformerTarget;
  cache: InformerCache;
  resyncPeriodMs: number;
  /** The last resourceVersion seen (list or event): a resumed watch starts after it. */
  resourceVersion: string;
  /** Failures since the last success: the backoff doubles with each. */
  failures: number;
  synced: boolean;
  lastError: string | null;
}

export interface InformerInput {
  source: ListWatcher;
  target: InformerTarget;
  cache: InformerCache;
  resyncPeriodMs?: number;
}

export type InformerEvent =
  | { type: "watch.event"; event: ApiWatchEvent }
  | { type: "watch.gone"; error: string }
  | { type: "watch.failed"; error: string }
  | { type: "informer.stop" };

/**
 * Items per page of a list (client-go's reflector: 500). A whole list of 10,000 pods in one
 * answer took the event loop for most of a second — encoding, copying, and every handler —
 * long enough for the node's Lease renewals to miss their deadline; a page at a time leaves
 * the loop free in between.
 */
export const INFORMER_LIST_PAGE_SIZE = 500;

/** Lists the target page by page into the cache; answers the list's resourceVersion. */
const listObjects = fromPromise<
  string,
  { source: ListWatcher; target: InformerTarget; cache: InformerCache }
>(async ({ input }) => {
  const seen = new Set<string>();
  let resourceVersion = "";
  let next: string | undefined;
  do {
    const request: ListRequest = { ...input.target, limit: INFORMER_LIST_PAGE_SIZE };
    if (next !== undefined) request.continue = next;
    const page: ObjectList = await input.source.list(request);
    // every page is of the first one's revision (the continue token carries it)
    if (resourceVersion === "") resourceVersion = page.metadata.resourceVersion;
    input.cache.replacePage(seen, page.items);
    next = page.metadata.continue || undefined;
  } while (next !== undefined);
  input.cache.finishReplace(seen);
  return resourceVersion;
});

const watchObjects = fromCallback<
  InformerEvent,
  { source: ListWatcher; target: InformerTarget; resourceVersion: string }
>(({ input, sendBack }) => {
  let stopped = false;
  let handle: { cancel(): void } | null = null;
  const request: WatchRequest = {
    ...input.target,
    resourceVersion: input.resourceVersion,
    allowWatchBookmarks: true,
  };
  const closed = (error: Error) => {
    if (stopped) return;
    const gone = isGone(error);
    sendBack({ type: gone ? "watch.gone" : "watch.failed", error: error.message });
  };
  input.source
    .watch(request, {
      event: (event) => {
        if (!stopped) sendBack({ type: "watch.event", event });
      },
      closed,
    })
    .then(
      (h) => {
        if (stopped) h.cancel();
        else handle = h;
      },
      (error: Error) => closed(error),
    );
  return () => {
    stopped = true;
    handle?.cancel();
  };
});

/** The pause after `failures` consecutive failures: 100 ms, 200 ms, ... up to 5 s. */
export function backoffMs(failures: number): number {
  return Math.min(
    INFORMER_BACKOFF_INITIAL_MS * 2 ** Math.max(0, failures - 1),
    INFORMER_BACKOFF_MAX_MS,
  );
}

export const informerMachine = setup({
  types: {
    context: {} as InformerContext,
    input: {} as InformerInput,
    events: {} as InformerEvent,
  },
  actors: { listObjects, watchObjects },
  delays: {
    backoffDelay: ({ context }) => backoffMs(context.failures),
    resyncPeriod: ({ context }) => context.resyncPeriodMs,
  },
  guards: {
    resyncEnabled: ({ context }) => context.resyncPeriodMs > 0,
    hasNotListed: ({ context }) => !context.synced,
    versionForgotten: ({ context }) => context.resourceVersion === "",
    isNewEvent: ({ context, event }) => {
      if (event.type !== "watch.event") return false;
      // a resumed watch starts after the last version seen; this drops any replay all the same
      return isNewerVersion(resourceVersionOf(event.event.object), context.resourceVersion);
    },
  },
  actions: {
    // the pages are in the cache already (listObjects): the list's version, and synced
    replaceCache: assign((_, resourceVersion: string) => {
      return {
        resourceVersion,
        synced: true,
        failures: 0,
        lastError: null,
      };
    }),
    applyWatchEvent: assign(({ context, event }) => {
      if (event.type !== "watch.event") return {};
      context.cache.apply(event.event);
      return {
        resourceVersion: resourceVersionOf(event.event.object),
        failures: 0,
      };
    }),
    resyncCache: ({ context }) => context.cache.resync(),
    recordFailure: assign(({ context }, error: string) => ({
      lastError: error,
      failures: context.failures + 1,
    })),
    /** Relisting after an outage (rather than resuming) is needed only after a 410. */
    forgetResourceVersion: assign({ resourceVersion: "" }),
  },
}).createMachine({
  id: "informer",
  context: ({ input }) => ({
    source: input.source,
    target: input.target,
    cache: input.cache,
    resyncPeriodMs: input.resyncPeriodMs ?? 0,
    resourceVersion: "",
    failures: 0,
    synced: false,
    lastError: null,
  }),
  initial: "listing",
  on: { "informer.stop": { target: ".stopped" } },
  states: {
    listing: {
      invoke: {
        src: "listObjects",
        input: ({ context }) => ({
          source: context.source,
          target: context.target,
          cache: context.cache,
        }),
        onDone: {
          target: "watching",
          actions: { type: "replaceCache", params: ({ event }) => event.output },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    watching: {
      invoke: {
        src: "watchObjects",
        input: ({ context }) => ({
          source: context.source,
          target: context.target,
          resourceVersion: context.resourceVersion,
        }),
      },
      on: {
        "watch.event": { guard: "isNewEvent", actions: "applyWatchEvent" },
        "watch.gone": { target: "relisting", actions: "forgetResourceVersion" },
        "watch.failed": {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => event.error },
        },
      },
      initial: "streaming",
      states: {
        streaming: {
          after: {
            resyncPeriod: {
              guard: "resyncEnabled",
              target: "streaming",
              reenter: true,
              actions: "resyncCache",
            },
          },
        },
      },
    },
    relisting: {
      invoke: {
        src: "listObjects",
        input: ({ context }) => ({
          source: context.source,
          target: context.target,
          cache: context.cache,
        }),
        onDone: {
          target: "watching",
          actions: { type: "replaceCache", params: ({ event }) => event.output },
        },
        onError: {
          target: "backoff",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    backoff: {
      after: {
        backoffDelay: [
          { guard: "hasNotListed", target: "listing" },
          // after a 410 the version was forgotten: relist; otherwise resume the watch
          { guard: "versionForgotten", target: "relisting" },
          { target: "watching" },
        ],
      },
    },
    stopped: { type: "final" },
  },
});

export interface InformerOptions extends InformerTarget {
  source: ListWatcher;
  handlers: InformerHandlers;
  resyncPeriodMs?: number;
  clock: Clock;
  /** Run inside this actor system (inspectable as `nodeId/name`); otherwise standalone. */
  system?: ActorSystem | undefined;
  name?: string;
  /** In `system`, run as this actor's child (`nodeId/parent/name`, see `spawnChild`). */
  parent?: string | undefined;
}

/** A running informer: the statechart plus read access to its cache. */
export class Informer {
  private constructor(
    readonly actor: AnyActorRef,
    private readonly cache: InformerCache,
    private readonly release: () => unknown,
  ) {}

  static start(options: InformerOptions): Informer {
    const cache = new InformerCache(options.handlers);
    const target: InformerTarget = { resource: options.resource };
    if (options.namespace) target.namespace = options.namespace;
    if (options.labelSelector) target.labelSelector = options.labelSelector;
    if (options.fieldSelector) target.fieldSelector = options.fieldSelector;
    const input: InformerInput = {
      source: options.source,
      target,
      cache,
      resyncPeriodMs: options.resyncPeriodMs ?? 0,
    };
    const { system, parent } = options;
    const name = options.name ?? `informer:${options.resource}`;
    let actor: AnyActorRef;
    let release: () => unknown = () => undefined;
    if (system === undefined) {
      // standalone (unit tests of a component without an actor system)
      actor = createActor(informerMachine, { input, clock: options.clock }).start();
    } else if (parent !== undefined) {
      actor = system.spawnChild(parent, name, informerMachine, { input });
      release = () => system.despawn(`${parent}/${name}`);
    } else {
      actor = system.spawn(name, informerMachine, { input, supervise: false });
      release = () => system.despawn(name);
    }
    return new Informer(actor, cache, release);
  }

  /** True once the first list is in the cache (client-go's HasSynced). */
  hasSynced(): boolean {
    return (this.actor.getSnapshot() as { context: InformerContext }).context.synced;
  }

  /** The statechart's state: "listing", {watching: "streaming"}, "relisting", "backoff". */
  state(): unknown {
    return this.actor.getSnapshot().value;
  }

  get(key: string): JsonObject | undefined {
    return this.cache.get(key);
  }

  keys(): string[] {
    return this.cache.keys();
  }

  list(): JsonObject[] {
    return this.cache.list();
  }

  /** Stops watching; an informer spawned in an actor system also frees its name there. */
  stop(): void {
    this.actor.send({ type: "informer.stop" });
    this.release();
  }
}
