/**
 * The client side of the `apiserver` actor, usable from any node (or a ClientNode): typed
 * methods for the REST verbs, `Status` answers thrown as `ApiError` (409 on a stale update is
 * `isConflict(error)` from errors.ts), and watches delivered as Kubernetes watch events.
 *
 * Servers are tried like the store client tries them: the one that answered last first, then
 * the others we are connected to, in rounds with a doubling pause. Only transport failures are
 * retried (a Status is an answer), and for writes only those that prove the request never
 * reached a server (AskNotDeliveredError), unless the write is conditional. client-go retries
 * no write after a timeout or a reset connection: the first attempt may still be in a server's
 * hands — an API server cut off from the Raft leader keeps retrying its store write — and land
 * after a retry elsewhere was acknowledged and after the caller's next write, undoing it. Such
 * a write fails with ApiOutcomeUnknownError instead; the caller reads and decides (a
 * controller requeues). A conditional write — an update pinning `metadata.resourceVersion`, a
 * delete with preconditions — is retried all the same: a late first attempt finds the object
 * changed and fails its precondition, so it cannot undo anything; the retry may answer 409 for
 * a write that applied, which callers of conditional writes handle by reading again (a Lease
 * holder's renewal finds itself the holder).
 *
 * A watch is served by one server. When that server stops answering (`api.watch.check` fails)
 * or ends the watch, `closed` is called once with the reason; resuming from the last seen
 * resourceVersion is the caller's business (the informer does it).
 */
import { type AnyActorRef, setup } from "xstate";
import {
  API_ACTOR,
  API_WATCH_EVENT_KIND,
  type ApiReply,
  type ApiWatchEvent,
  type ApiWatchMessage,
  type CreateRequest,
  type DeleteRequest,
  type GetRequest,
  type ListRequest,
  MAX_WATCH_CHECK_TAGS,
  type PatchRequest,
  type PatchType,
  type UpdateRequest,
  type WatchRequest,
  watchEventOf,
} from "../api/api-protocol.ts";
import type { JsonObject } from "../api/json.ts";
import { internalErrorStatus, type Status } from "../api/status.ts";
import type { UserInfo } from "../api/user-info.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { TimerId } from "../system/clock.ts";
import { type ActorMessage, AskNotDeliveredError } from "../system/message.ts";
import { RoundsExhaustedError, ServerRounds } from "../system/try-any-server.ts";
import { ApiError } from "./errors.ts";

export interface ApiClientOptions {
  system: ActorSystem;
  /** The server node ids, e.g. ["n1", "n2", "n3"]. */
  servers: () => string[];
  /** Per attempt; generous, since the server's store client retries through an election. */
  requestTimeoutMs?: number;
  /** Attempts per request, over all servers. */
  maxAttempts?: number;
  /** How often a watch checks that its server still serves it. */
  watchCheckIntervalMs?: number;
  /**
   * The identity this client's component declares on every request (api-protocol.ts): its
   * own, as each Kubernetes component has its credentials. Absent: the join token's holder.
   */
  user?: UserInfo;
}

/** A list answer: `{kind: "ConfigMapList", metadata: {resourceVersion, continue?}, items}`. */
export interface ObjectList {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: JsonObject[];
}

export interface ApiWatchHandlers {
  event(event: ApiWatchEvent): void;
  /** The watch ended: an ApiError with the server's Status (410 Gone), or a transport error. */
  closed(error: Error): void;
}

export interface ApiWatchHandle {
  cancel(): void;
}

/** The list + watch half of the client: what an informer needs (and a test fakes). */
export interface ListWatcher {
  list(request: ListRequest): Promise<ObjectList>;
  watch(request: WatchRequest, handlers: ApiWatchHandlers): Promise<ApiWatchHandle>;
}

export class ApiUnavailableError extends Error {
  constructor(what: string, attempts: number, last: string) {
    super(`api unavailable: ${what} failed ${attempts} times (last: ${last})`);
    this.name = "ApiUnavailableError";
  }
}

/**
 * A write whose request may have reached a server, which did not answer (a timeout, a lost
 * connection): it may have applied, or may still apply. Not retried (see the header).
 */
export class ApiOutcomeUnknownError extends ApiUnavailableError {
  constructor(what: string, last: string) {
    super(what, 1, last);
    this.name = "ApiOutcomeUnknownError";
    this.message = `outcome unknown: ${what} may have been applied (${last})`;
  }
}

/** The verbs that change objects: retried only when the request provably went nowhere. */
const WRITE_KINDS: ReadonlySet<string> = new Set([
  "api.create",
  "api.update",
  "api.patch",
  "api.delete",
]);

function wasNotDelivered(error: unknown): boolean {
  return error instanceof AskNotDeliveredError;
}

/** A write guarded by a precondition that a late duplicate of it would fail (see the header). */
export function isConditionalWrite(kind: string, body: unknown): boolean {
  if (kind === "api.update") {
    const rv = (body as UpdateRequest).object?.metadata as
      | { resourceVersion?: unknown }
      | undefined;
    return typeof rv?.resourceVersion === "string" && rv.resourceVersion !== "";
  }
  if (kind === "api.delete") {
    const p = (body as DeleteRequest).preconditions;
    return Boolean(p?.uid || p?.resourceVersion);
  }
  return false;
}

let clientCounter = 0;

/** Receives `api.watch.event` tells for one client's watches. */
const apiWatchReceiverMachine = setup({
  types: {
    context: {} as { deliver: (message: ApiWatchMessage) => void },
    input: {} as { deliver: (message: ApiWatchMessage) => void },
    events: {} as ActorMessage<typeof API_WATCH_EVENT_KIND, ApiWatchMessage>,
  },
  actions: {
    deliverApiWatchEvent: ({ context, event }) => context.deliver(event.body),
  },
}).createMachine({
  id: "api-watch-receiver",
  context: ({ input }) => ({ deliver: input.deliver }),
  on: { [API_WATCH_EVENT_KIND]: { actions: "deliverApiWatchEvent" } },
});

interface ActiveWatch {
  server: string;
  handlers: ApiWatchHandlers;
  done: boolean;
}

export class ApiClient implements ListWatcher {
  readonly name: string;
  private readonly system: ActorSystem;
  private readonly options: Required<Omit<ApiClientOptions, "system" | "user">>;
  private readonly user: UserInfo | undefined;
  private readonly rounds: ServerRounds;
  private receiver: AnyActorRef | null = null;
  private offPeerDown: (() => void) | null = null;
  private readonly watches = new Map<string, ActiveWatch>();
  /** The pending liveness check of each server that serves some of our watches. */
  private readonly checks = new Map<string, TimerId>();
  private nextTag = 0;

  constructor(options: ApiClientOptions) {
    this.system = options.system;
    this.options = {
      requestTimeoutMs: 10_000,
      maxAttempts: 12,
      watchCheckIntervalMs: 1_000,
      servers: options.servers,
      ...stripUndefined(options),
    };
    this.user = options.user;
    this.name = `api-client-${++clientCounter}`;
    this.rounds = new ServerRounds(this.system, this.options.servers, this.options);
  }

  private get address(): string {
    return this.system.address(this.name);
  }

  // ---- the verbs -------------------------------------------------------------------------------

  get(resource: string, name: string, options: Omit<GetRequest, "resource" | "name"> = {}) {
    return this.call<JsonObject>("api.get", { resource, name, ...options });
  }

  list(request: ListRequest): Promise<ObjectList> {
    return this.call<ObjectList>("api.list", request);
  }

  create(
    resource: string,
    object: JsonObject,
    options: Omit<CreateRequest, "resource" | "object"> = {},
  ) {
    return this.call<JsonObject>("api.create", { resource, object, ...options });
  }

  /** A replace; `object.metadata.resourceVersion` (when set) must be current, else 409. */
  update(
    resource: string,
    object: JsonObject,
    options: Omit<UpdateRequest, "resource" | "object"> = {},
  ) {
    return this.call<JsonObject>("api.update", { resource, object, ...options });
  }

  patch(
    resource: string,
    name: string,
    patchType: PatchType,
    patch: unknown,
    options: Omit<PatchRequest, "resource" | "name" | "patchType" | "patch"> = {},
  ) {
    return this.call<JsonObject>("api.patch", { resource, name, patchType, patch, ...options });
  }

  delete(resource: string, name: string, options: Omit<DeleteRequest, "resource" | "name"> = {}) {
    return this.call<JsonObject>("api.delete", { resource, name, ...options });
  }

  private async call<T>(kind: string, body: unknown): Promise<T> {
    const { reply } = await this.askWithRetry<ApiReply>(kind, {
      ...(body as object),
      ...this.identity(),
    });
    if (!reply.ok) throw new ApiError(reply.status);
    return reply.object as unknown as T;
  }

  private identity(): { user?: UserInfo } {
    return this.user ? { user: this.user } : {};
  }

  // ---- watches ---------------------------------------------------------------------------------

  /** Starts a watch on one server; events arrive in resourceVersion order. */
  async watch(request: WatchRequest, handlers: ApiWatchHandlers): Promise<ApiWatchHandle> {
    this.ensureReceiver();
    let started: { tag: string; watch: ActiveWatch; status?: Status };
    try {
      started = await this.rounds.run(async (server) => {
        // a tag per attempt: a server that started the watch after our ask timed out must not
        // interleave its events with the next server's
        const tag = `${this.name}:${++this.nextTag}`;
        const watch: ActiveWatch = { server, handlers, done: false };
        // registered before asking: the first events may arrive ahead of the reply
        this.watches.set(tag, watch);
        try {
          const reply = await this.system.ask<{ tag: string; status?: Status }>(
            this.address,
            `${server}/${API_ACTOR}`,
            "api.watch",
            { ...request, tag, ...this.identity() },
            this.options.requestTimeoutMs,
          );
          return { tag, watch, ...(reply.status ? { status: reply.status } : {}) };
        } catch (error) {
          this.cancelWatch(tag, true);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof RoundsExhaustedError) {
        throw new ApiUnavailableError("watch", error.attempts, error.last);
      }
      throw error;
    }
    const { tag, watch, status } = started;
    if (status) {
      this.cancelWatch(tag, false);
      throw new ApiError(status); // the server refused the watch itself: not worth a retry
    }
    if (!watch.done) this.scheduleCheck(watch.server);
    return { cancel: () => this.cancelWatch(tag, true) };
  }

  /** Cancels every watch. */
  close(): void {
    this.offPeerDown?.();
    for (const tag of [...this.watches.keys()]) this.cancelWatch(tag, true);
    for (const timer of this.checks.values()) this.system.clock.clearTimeout(timer);
    this.checks.clear();
  }

  private cancelWatch(tag: string, tellServer: boolean): void {
    const watch = this.watches.get(tag);
    if (!watch) return;
    watch.done = true;
    this.watches.delete(tag);
    if (tellServer && watch.server)
      this.system.tell(this.address, `${watch.server}/${API_ACTOR}`, "api.watch.cancel", { tag });
  }

  /** A watch served by `server` is lost now (the informer relists or resumes elsewhere). */
  private onServerDown(server: string): void {
    for (const [tag, watch] of [...this.watches])
      if (watch.server === server && !watch.done)
        this.lose(tag, watch, `connection to ${server} lost`);
  }

  private ensureReceiver(): void {
    if (this.receiver) return;
    this.offPeerDown ??= this.system.onPeerDown((server) => this.onServerDown(server));
    this.receiver = this.system.spawn(this.name, apiWatchReceiverMachine, {
      input: { deliver: (m: ApiWatchMessage) => this.onWatchMessage(m) },
    });
  }

  private onWatchMessage(message: ApiWatchMessage): void {
    const watch = this.watches.get(message.tag);
    if (!watch || watch.done) return;
    let event: ApiWatchEvent;
    try {
      event = watchEventOf(message);
    } catch (error) {
      // a server that sends what it cannot have meant: this watch ends, the informer relists
      this.cancelWatch(message.tag, true);
      watch.handlers.closed(new Error(`bad watch event: ${(error as Error).message}`));
      return;
    }
    if (event.type === "ERROR") {
      this.cancelWatch(message.tag, false);
      watch.handlers.closed(new ApiError(event.object as unknown as Status));
      return;
    }
    watch.handlers.event(event);
  }

  /**
   * Every `watchCheckIntervalMs`, one ask per server covers all the watches it serves for us
   * (in asks of at most MAX_WATCH_CHECK_TAGS): an informer-heavy process has dozens of watches,
   * and an ask each was most of an idle cluster's mesh traffic. A lost link fails them at once
   * (onServerDown); this finds the watches a server forgot while the link stayed up.
   */
  private scheduleCheck(server: string): void {
    if (this.checks.has(server)) return;
    const timer = this.system.clock.setTimeout(() => {
      this.checks.delete(server);
      const tags = [...this.watches].filter(([, w]) => w.server === server && !w.done);
      if (tags.length === 0) return;
      const asks: Promise<void>[] = [];
      for (let i = 0; i < tags.length; i += MAX_WATCH_CHECK_TAGS) {
        asks.push(this.checkWatches(server, tags.slice(i, i + MAX_WATCH_CHECK_TAGS)));
      }
      // the next round once this one is answered: a slow server never has checks piling up
      void Promise.all(asks).then(() => {
        if ([...this.watches.values()].some((w) => w.server === server && !w.done)) {
          this.scheduleCheck(server);
        }
      });
    }, this.options.watchCheckIntervalMs);
    this.checks.set(server, timer);
  }

  private checkWatches(server: string, watches: [string, ActiveWatch][]): Promise<void> {
    return this.system
      .ask<{ alive: unknown }>(
        this.address,
        `${server}/${API_ACTOR}`,
        "api.watch.check",
        { tags: watches.map(([tag]) => tag) },
        this.options.requestTimeoutMs,
      )
      .then(
        (r) => {
          const alive = Array.isArray(r.alive) ? r.alive : [];
          for (const [i, [tag, watch]] of watches.entries()) {
            if (alive[i] !== true) this.lose(tag, watch, `watch no longer served by ${server}`);
          }
        },
        (error: Error) => {
          for (const [tag, watch] of watches) this.lose(tag, watch, error.message);
        },
      );
  }

  private lose(tag: string, watch: ActiveWatch, reason: string): void {
    if (watch.done) return;
    this.rounds.failed(watch.server);
    this.cancelWatch(tag, true);
    watch.handlers.closed(new ApiUnavailableError("watch", 1, reason));
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private async askWithRetry<T>(
    kind: string,
    body: unknown,
  ): Promise<{ server: string; reply: T }> {
    const write = WRITE_KINDS.has(kind) && !isConditionalWrite(kind, body);
    try {
      return await this.rounds.ask<T>(
        this.address,
        API_ACTOR,
        kind,
        body,
        write ? wasNotDelivered : undefined,
      );
    } catch (error) {
      if (error instanceof RoundsExhaustedError) {
        throw new ApiUnavailableError(kind, error.attempts, error.last);
      }
      if (write && !wasNotDelivered(error)) {
        throw new ApiOutcomeUnknownError(kind, (error as Error).message);
      }
      throw error;
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A Status from any error, for callers that log or count outcomes. */
export function apiStatusOf(error: unknown): Status {
  if (error instanceof ApiError) return error.status;
  return internalErrorStatus((error as Error)?.message ?? String(error));
}

/** The API verbs controllers write with (ApiClient; an in-memory fake in unit tests). */
export type ObjectApi = Pick<ApiClient, "get" | "list" | "create" | "update" | "delete">;
