/**
 * The page's live streams (server-sent events on `/ui/api/stream`): each open page is a client
 * that watches either the whole cluster (state changes of every actor) or one actor (every
 * record of it). The two live feeds (live-feed.ts) follow the nodes with the union of what the
 * clients want; records are batched per client and written every `flushMs`.
 *
 * Limits: at most `maxClients` streams per node; a client that does not keep up (its socket's
 * buffer is full) has its queue cut to `maxQueuedRecords`, the cut counted in `dropped`, rather
 * than the node buffering without bound.
 */
import type { ServerResponse } from "node:http";
import { nodeOf } from "../../transport/envelope.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import type { InspectionRecord } from "../system/inspection-ring.ts";
import type { FollowFilter } from "../system/node-actor.ts";
import type { LiveFeedPort } from "./live-feed.ts";
import { type StreamBatch, UI_STREAM_EVENT } from "./ui-protocol.ts";

export interface UiStreamLimits {
  /** Open streams one node serves. */
  maxClients: number;
  /** Records waiting for one client; older ones are dropped past this. */
  maxQueuedRecords: number;
  /** Records are written at most this often (one DOM update per batch on the page). */
  flushMs: number;
  /** A comment line this often keeps proxies and the browser from timing the stream out. */
  heartbeatMs: number;
}

export const DEFAULT_UI_STREAM_LIMITS: UiStreamLimits = {
  maxClients: 32,
  maxQueuedRecords: 2_000,
  flushMs: 10,
  heartbeatMs: 15_000,
};

interface StreamClient {
  res: ServerResponse;
  /** The actor watched, or null for the cluster's changes. */
  actor: string | null;
  queue: InspectionRecord[];
  dropped: number;
  flushTimer: TimerId | null;
  heartbeatTimer: TimerId | null;
}

function watches(client: StreamClient, address: string): boolean {
  const actor = client.actor;
  if (actor === null) return true;
  return address === actor || (address.startsWith(actor) && address[actor.length] === ".");
}

export class UiStreams {
  private readonly clients = new Set<StreamClient>();
  readonly limits: UiStreamLimits;
  /** Feeds to poke when what the clients want changes. */
  private readonly onInterestChanged: (() => void)[] = [];

  constructor(
    private readonly clock: Clock,
    limits: Partial<UiStreamLimits> = {},
  ) {
    this.limits = { ...DEFAULT_UI_STREAM_LIMITS, ...limits };
  }

  /** The port of the feed that follows every node's state changes. */
  readonly changesPort: LiveFeedPort = {
    filterFor: () =>
      [...this.clients].some((c) => c.actor === null) ? { changesOnly: true } : null,
    deliver: (records) => this.enqueue(records, (c) => c.actor === null),
  };

  /** The port of the feed that follows the actors open in actor views, on their nodes. */
  readonly watchPort: LiveFeedPort = {
    filterFor: (nodeId): FollowFilter | null => {
      const addresses = new Set<string>();
      for (const c of this.clients) {
        if (c.actor !== null && nodeOf(c.actor) === nodeId) addresses.add(c.actor);
      }
      return addresses.size > 0 ? { addresses: [...addresses] } : null;
    },
    deliver: (records) => this.enqueue(records, (c) => c.actor !== null),
  };

  whenInterestChanges(listener: () => void): void {
    this.onInterestChanged.push(listener);
  }

  get size(): number {
    return this.clients.size;
  }

  /** Serves one stream until the page goes away. Returns false when the node has too many. */
  open(res: ServerResponse, actor: string | null): boolean {
    if (this.clients.size >= this.limits.maxClients) return false;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    // the browser reconnects after this long when the node restarts
    res.write("retry: 1000\n\n");
    const client: StreamClient = {
      res,
      actor,
      queue: [],
      dropped: 0,
      flushTimer: null,
      heartbeatTimer: null,
    };
    this.clients.add(client);
    this.scheduleHeartbeat(client);
    res.on("close", () => this.close(client));
    res.on("drain", () => this.scheduleFlush(client));
    for (const listener of this.onInterestChanged) listener();
    return true;
  }

  /** Ends every stream (the node stops). */
  closeAll(): void {
    for (const client of [...this.clients]) {
      client.res.end();
      this.close(client);
    }
  }

  private close(client: StreamClient): void {
    if (!this.clients.delete(client)) return;
    if (client.flushTimer !== null) this.clock.clearTimeout(client.flushTimer);
    if (client.heartbeatTimer !== null) this.clock.clearTimeout(client.heartbeatTimer);
    for (const listener of this.onInterestChanged) listener();
  }

  private enqueue(records: InspectionRecord[], audience: (c: StreamClient) => boolean): void {
    for (const client of this.clients) {
      if (!audience(client)) continue;
      for (const record of records) if (watches(client, record.address)) client.queue.push(record);
      const excess = client.queue.length - this.limits.maxQueuedRecords;
      if (excess > 0) {
        client.queue.splice(0, excess);
        client.dropped += excess;
      }
      if (client.queue.length > 0) this.scheduleFlush(client);
    }
  }

  private scheduleFlush(client: StreamClient): void {
    if (client.flushTimer !== null || !this.clients.has(client)) return;
    client.flushTimer = this.clock.setTimeout(() => {
      client.flushTimer = null;
      this.flush(client);
    }, this.limits.flushMs);
  }

  private flush(client: StreamClient): void {
    // a socket still full from the last batch: keep queueing (bounded) until it drains
    if (client.res.writableNeedDrain || client.queue.length === 0) return;
    const batch: StreamBatch = { records: client.queue, dropped: client.dropped };
    client.queue = [];
    client.dropped = 0;
    client.res.write(`event: ${UI_STREAM_EVENT}\ndata: ${JSON.stringify(batch)}\n\n`);
  }

  private scheduleHeartbeat(client: StreamClient): void {
    client.heartbeatTimer = this.clock.setTimeout(() => {
      if (!this.clients.has(client)) return;
      client.res.write(": keep-alive\n\n");
      this.scheduleHeartbeat(client);
    }, this.limits.heartbeatMs);
  }
}
