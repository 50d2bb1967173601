/**
 * The store client, usable from any node: writes with a client session so that a retry after a
 * failover is applied exactly once (Raft thesis §6.3), linearizable reads by default, and
 * watches that resume on another server after a failure without losing or repeating events.
 *
 * One client is one session: its writes are issued one at a time, in order (the session table
 * allows one outstanding command per session). Run several clients for concurrency.
 */
import { type AnyActorRef, setup } from "xstate";
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import type { TimerId } from "../../actors/system/clock.ts";
import type { ActorMessage } from "../../actors/system/message.ts";
import { RoundsExhaustedError, ServerRounds } from "../../actors/system/try-any-server.ts";
import type { MvccCommand } from "../mvcc/commands.ts";
import type { ApplyOutcome, CommandResponse, RangeResponse } from "../mvcc/responses.ts";
import type { RangeRequest } from "../mvcc/store.ts";
import type { WatchRequest, WatchResponse } from "../mvcc/watch-hub.ts";
import { STORE_ACTOR, WATCH_EVENT_KIND } from "../replica/replica-store-port.ts";

export interface StoreClientOptions {
  system: ActorSystem;
  /** The server node ids to try, e.g. ["n1", "n2", "n3"]. */
  servers: () => string[];
  /** Per attempt. A write retried after a timeout keeps its seq, so it applies once. */
  requestTimeoutMs?: number;
  /** Attempts per request before giving up (each on the next server). */
  maxAttempts?: number;
  /** How often a watch checks that its server is alive. */
  watchCheckIntervalMs?: number;
  /**
   * The client's actor name on its node (default `store-client-N`, N counting clients in this
   * process). A simulation names its clients so that a replay sends the same envelopes.
   */
  name?: string;
}

/** How a range is served. */
export interface RangeOptions {
  /** Any server's local state, without a ReadIndex round (etcd's serializable read). */
  serializable?: boolean;
  /**
   * Ask this server only, once: a follower serves a linearizable read through ReadIndex. Chaos
   * workloads spread reads over every server this way; the client's failover does not apply.
   */
  server?: string;
}

export class StoreUnavailableError extends Error {
  constructor(what: string, attempts: number, last: string) {
    super(`store unavailable: ${what} failed ${attempts} times (last: ${last})`);
    this.name = "StoreUnavailableError";
  }
}

let clientCounter = 0;

/** Receives watch events for one client's watches (it is an actor so events can reach it). */
const watchReceiverMachine = setup({
  types: {
    context: {} as { deliver: (tag: string, response: WatchResponse) => void },
    input: {} as { deliver: (tag: string, response: WatchResponse) => void },
    events: {} as ActorMessage<typeof WATCH_EVENT_KIND, { tag: string; response: WatchResponse }>,
  },
  actions: {
    deliverWatchEvent: ({ context, event }) => context.deliver(event.body.tag, event.body.response),
  },
}).createMachine({
  id: "watch-receiver",
  context: ({ input }) => ({ deliver: input.deliver }),
  on: { [WATCH_EVENT_KIND]: { actions: "deliverWatchEvent" } },
});

export interface WatchHandle {
  cancel(): void;
  /**
   * Asks the serving server for a progress response (etcd's RequestProgress): it carries the
   * server's revision, and comes after every event up to that revision was delivered.
   */
  requestProgress(): void;
}

interface ActiveWatch {
  request: WatchRequest;
  onResponse: (response: WatchResponse) => void;
  server: string;
  /** Names the current subscription; a resumed watch gets a new one, so stale events are dropped. */
  tag: string;
  /** The revision of the last events delivered: a resumed watch starts after it. */
  lastRevision: number;
  timer: TimerId | null;
  canceled: boolean;
  resubscribing: boolean;
}

export class StoreClient {
  readonly name: string;
  private readonly options: Required<StoreClientOptions>;
  private readonly system: ActorSystem;
  private clientId: number | null = null;
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly rounds: ServerRounds;
  private receiver: AnyActorRef | null = null;
  private offPeerDown: (() => void) | null = null;
  private readonly watches = new Map<string, ActiveWatch>();
  private closed = false;

  constructor(options: StoreClientOptions) {
    this.system = options.system;
    this.name = options.name ?? `store-client-${++clientCounter}`;
    this.options = {
      requestTimeoutMs: 2_000,
      maxAttempts: 20,
      watchCheckIntervalMs: 1_000,
      ...options,
      name: this.name,
    };
    this.rounds = new ServerRounds(this.system, this.options.servers, this.options);
  }

  private get address(): string {
    return this.system.address(this.name);
  }

  // ---- writes --------------------------------------------------------------------------------

  put(key: Uint8Array, value: Uint8Array, extra: { lease?: number; prevKv?: boolean } = {}) {
    return this.write({ op: "put", key, value, ...extra });
  }

  deleteRange(key: Uint8Array, rangeEnd?: Uint8Array, prevKv = false) {
    return this.write({ op: "deleteRange", key, ...(rangeEnd ? { rangeEnd } : {}), prevKv });
  }

  /** Any write command, exactly once; resolves with the store's response. */
  write(command: MvccCommand): Promise<CommandResponse> {
    const run = async () => {
      if (this.clientId === null) await this.register();
      const seq = ++this.seq;
      const outcome = await this.proposeWithRetry("write", () => ({
        command,
        session: { clientId: this.clientId!, seq, nowMs: this.system.clock.wallMs() },
      }));
      if (outcome.status === "applied" || outcome.status === "duplicate") return outcome.response;
      if (outcome.status === "sessionExpired") {
        this.clientId = null; // the next write registers a fresh session
        throw new Error("session expired: the write's fate is unknown");
      }
      throw new Error(`write refused by the session table: ${outcome.status}`);
    };
    const guarded = () =>
      run().catch((error: unknown) => {
        // The write's fate is unknown: it may yet apply under its seq. A fresh session keeps
        // every later write's seq in order; exactly-once holds for what was acknowledged.
        this.clientId = null;
        throw error;
      });
    const result = this.queue.then(guarded, guarded);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async register(): Promise<void> {
    const outcome = await this.proposeWithRetry("register", () => ({
      command: { op: "registerSession", nowMs: this.system.clock.wallMs() },
    }));
    if (outcome.status !== "applied" || outcome.response.kind !== "registerSession") {
      throw new Error(`session registration failed: ${outcome.status}`);
    }
    this.clientId = outcome.response.clientId;
    this.seq = 0;
  }

  private async proposeWithRetry(what: string, envelope: () => object): Promise<ApplyOutcome> {
    const body = { envelope: envelope() };
    const reply = await this.askWithRetry<{ outcome: ApplyOutcome; leader: string | null }>(
      what,
      "kv.propose",
      body,
    );
    if (reply.leader) this.rounds.preferred = reply.leader;
    return reply.outcome;
  }

  // ---- reads ---------------------------------------------------------------------------------

  /**
   * A range; linearizable unless `serializable` (then any server's local state). `options` may
   * also pin the read to one server (see RangeOptions); a boolean is `serializable`.
   */
  async range(
    request: RangeRequest,
    options: boolean | RangeOptions = false,
  ): Promise<RangeResponse> {
    const { serializable = false, server } =
      typeof options === "boolean" ? { serializable: options } : options;
    const body = { request, serializable };
    type Reply = RangeResponse | { kind: "error"; error: string };
    const response =
      server === undefined
        ? await this.askWithRetry<Reply>("range", "kv.range", body)
        : await this.system.ask<Reply>(
            this.address,
            `${server}/${STORE_ACTOR}`,
            "kv.range",
            body,
            this.options.requestTimeoutMs,
          );
    if (response.kind === "error") throw new Error(`range failed: ${response.error}`);
    return response;
  }

  // ---- watches -------------------------------------------------------------------------------

  /**
   * Watches a key range. Responses arrive in revision order; when the serving server fails the
   * watch moves to another one, resuming after the last delivered revision.
   */
  async watch(request: WatchRequest, onResponse: (r: WatchResponse) => void): Promise<WatchHandle> {
    this.ensureReceiver();
    const watch: ActiveWatch = {
      request,
      onResponse,
      server: "",
      tag: "",
      lastRevision: (request.startRevision ?? 0) - 1,
      timer: null,
      canceled: false,
      resubscribing: false,
    };
    await this.subscribe(watch);
    return {
      cancel: () => {
        watch.canceled = true;
        if (watch.timer !== null) this.system.clock.clearTimeout(watch.timer);
        this.watches.delete(watch.tag);
        this.system.tell(this.address, `${watch.server}/${STORE_ACTOR}`, "kv.watch.cancel", {
          tag: watch.tag,
        });
      },
      requestProgress: () => {
        if (watch.canceled || watch.resubscribing) return;
        this.system.tell(this.address, `${watch.server}/${STORE_ACTOR}`, "kv.watch.progress", {
          tag: watch.tag,
        });
      },
    };
  }

  /** Stops every watch and the receiver actor. */
  close(): void {
    this.closed = true;
    this.offPeerDown?.();
    for (const watch of this.watches.values()) {
      watch.canceled = true;
      if (watch.timer !== null) this.system.clock.clearTimeout(watch.timer);
    }
    this.watches.clear();
  }

  /** The watches `server` served move elsewhere now (see ActorSystem.onPeerDown). */
  private onServerDown(server: string): void {
    for (const watch of [...this.watches.values()])
      if (watch.server === server && !watch.canceled) this.resubscribe(watch);
  }

  private ensureReceiver(): void {
    if (this.receiver) return;
    this.offPeerDown ??= this.system.onPeerDown((server) => this.onServerDown(server));
    this.receiver = this.system.spawn(this.name, watchReceiverMachine, {
      input: { deliver: (tag: string, r: WatchResponse) => this.onWatchResponse(tag, r) },
    });
  }

  private async subscribe(watch: ActiveWatch): Promise<void> {
    const request = { ...watch.request, startRevision: watch.lastRevision + 1 };
    if (request.startRevision <= 0) delete (request as { startRevision?: number }).startRevision;
    try {
      await this.rounds.run(async (server) => {
        // registered before asking: the first events may arrive ahead of the reply
        const tag = `${this.name}:${++this.nextTag}`;
        watch.server = server;
        watch.tag = tag;
        this.watches.set(tag, watch);
        try {
          await this.system.ask(
            this.address,
            `${server}/${STORE_ACTOR}`,
            "kv.watch",
            { request, tag },
            this.options.requestTimeoutMs,
          );
        } catch (error) {
          this.watches.delete(tag);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof RoundsExhaustedError) {
        throw new StoreUnavailableError("watch", error.attempts, error.last);
      }
      throw error;
    }
    this.scheduleCheck(watch);
  }

  private onWatchResponse(tag: string, response: WatchResponse): void {
    const watch = this.watches.get(tag);
    if (watch === undefined || watch.canceled) return;
    if (response.kind === "events") {
      if (response.header.revision <= watch.lastRevision) return; // replayed after a resume
      watch.lastRevision = response.header.revision;
    }
    if (response.kind === "canceled") this.watches.delete(tag);
    watch.onResponse(response);
  }

  private scheduleCheck(watch: ActiveWatch): void {
    watch.timer = this.system.clock.setTimeout(() => {
      watch.timer = null;
      if (watch.canceled || this.closed) return;
      this.system
        .ask(
          this.address,
          `${watch.server}/${STORE_ACTOR}`,
          "kv.status",
          null,
          this.options.requestTimeoutMs,
        )
        .then(
          () => this.scheduleCheck(watch),
          () => this.resubscribe(watch),
        );
    }, this.options.watchCheckIntervalMs);
  }

  private resubscribe(watch: ActiveWatch): void {
    if (watch.canceled || watch.resubscribing) return;
    watch.resubscribing = true;
    if (watch.timer !== null) this.system.clock.clearTimeout(watch.timer);
    watch.timer = null;
    this.watches.delete(watch.tag);
    // the failed server comes last in the next rounds, until it answers again
    this.rounds.failed(watch.server);
    const attempt = () => {
      if (watch.canceled || this.closed) return;
      this.subscribe(watch).then(
        () => {
          watch.resubscribing = false;
        },
        () => {
          this.system.clock.setTimeout(attempt, this.options.watchCheckIntervalMs);
        },
      );
    };
    attempt();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private nextTag = 0;

  private async askWithRetry<T>(what: string, kind: string, body: unknown): Promise<T> {
    try {
      return (await this.rounds.ask<T>(this.address, STORE_ACTOR, kind, body)).reply;
    } catch (error) {
      if (error instanceof RoundsExhaustedError) {
        throw new StoreUnavailableError(what, error.attempts, error.last);
      }
      throw error;
    }
  }
}
