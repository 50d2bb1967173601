/**
 * The cluster DNS server of a server node (DESIGN §7; CoreDNS with its `kubernetes` and
 * `forward` plugins): fed by Service, EndpointSlice and Pod informers, it answers the cluster
 * zone over UDP and TCP on the node's own address (dns-server.ts does the answering; this
 * statechart decides when).
 *
 *   syncing ──informers listed──▶ binding ──bound──▶ serving (wellKnownPort | fallbackPort)
 *                                   │  ▲
 *                       bind failed ▼  │ (listenRetry)
 *                                  retrying
 *   any ──dns.stop──▶ stopped
 *
 * - It listens only once every informer has listed: before that every name would be NXDOMAIN.
 * - The server itself runs on a thread of its own (dns-thread.ts, dns-worker.ts), fed every
 *   informer event: on the node's main thread it queued behind Raft, the API server and the
 *   controllers.
 * - Port 53 needs root or CAP_NET_BIND_SERVICE; without them (EACCES) it binds the fallback port
 *   (10053) instead, and `port()` says which, for the kube-dns endpoints and `bosun status`.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { assign, fromPromise, setup } from "xstate";
import type { JsonObject } from "../api/json.ts";
import { EMPTY_RESOLV_CONF, parseResolvConf } from "../api/resolv-conf.ts";
import { DEFAULT_CLUSTER_DOMAIN } from "../api/well-known.ts";
import type { ListWatcher } from "../client/api-client.ts";
import { Informer } from "../client/informer.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import { QueryTally } from "./dns-metrics.ts";
import { DnsThread } from "./dns-thread.ts";
import type { ZoneChangeOp } from "./dns-thread-protocol.ts";
import { DEFAULT_DNS_LIMITS, DNS_PORT, type DnsLimits, FALLBACK_DNS_PORT } from "./limits.ts";

export const DNS_ACTOR = "dns";
/** Pause before a failed bind (address in use, …) is tried again. */
const LISTEN_RETRY_MS = 500;
/** How often the DNS thread hands its query counts to `/metrics` (a scrape is ≤ 1 s behind). */
const TALLY_INTERVAL_MS = 1_000;

/** What the statechart drives, behind a narrow port (a fake in tests). */
export interface DnsPort {
  informersSynced(): boolean;
  /** Binds; resolves with the port bound. */
  listen(): Promise<number>;
  stop(): void;
}

interface DnsContext {
  port: DnsPort;
  boundPort: number;
  lastError: string | null;
}

export type DnsEvent = { type: "informers.synced" } | { type: "dns.stop" };

export const dnsMachine = setup({
  types: {
    context: {} as DnsContext,
    input: {} as { port: DnsPort },
    events: {} as DnsEvent,
  },
  actors: {
    bind: fromPromise<number, { port: DnsPort }>(({ input }) => input.port.listen()),
  },
  delays: { listenRetry: LISTEN_RETRY_MS },
  guards: {
    informersSynced: ({ context }) => context.port.informersSynced(),
    boundWellKnownPort: ({ context }) => context.boundPort === DNS_PORT,
  },
  actions: {
    recordBound: assign((_, boundPort: number) => ({ boundPort, lastError: null })),
    recordBindError: assign((_, error: string) => ({ lastError: error })),
    closeSockets: ({ context }) => context.port.stop(),
  },
}).createMachine({
  id: "dns",
  context: ({ input }) => ({ port: input.port, boundPort: 0, lastError: null }),
  initial: "syncing",
  on: { "dns.stop": { target: ".stopped" } },
  states: {
    syncing: {
      always: { guard: "informersSynced", target: "binding" },
      on: { "informers.synced": { guard: "informersSynced", target: "binding" } },
    },
    binding: {
      invoke: {
        src: "bind",
        input: ({ context }) => ({ port: context.port }),
        onDone: {
          target: "serving",
          actions: { type: "recordBound", params: ({ event }) => event.output },
        },
        onError: {
          target: "retrying",
          actions: { type: "recordBindError", params: ({ event }) => String(event.error) },
        },
      },
    },
    retrying: { after: { listenRetry: { target: "binding" } } },
    serving: {
      // the substate shows in `bosun status` and the inspector: which port this node answers on
      initial: "choosing",
      states: {
        choosing: {
          always: [
            { guard: "boundWellKnownPort", target: "wellKnownPort" },
            { target: "fallbackPort" },
          ],
        },
        wellKnownPort: {},
        fallbackPort: {},
      },
    },
    stopped: { type: "final", entry: "closeSockets" },
  },
});

export interface DnsOptions {
  system: ActorSystem;
  source: ListWatcher;
  logger: Logger;
  /** The node's own address: where the server listens. */
  host: string;
  /** Ports tried in order (default 53, then 10053 when 53 is not ours to bind). */
  ports?: number[];
  /** The cluster domain (default `cluster.local`). */
  domain?: string;
  /** The host's resolvers (default: read from /etc/resolv.conf). */
  upstreams?: string[];
  limits?: Partial<DnsLimits>;
  /** Where the DNS thread's query counts go (the node's `/metrics`). */
  tally?: QueryTally;
}

export interface DnsHandle {
  /** The port bound, or 0 before it listens. */
  port(): number;
  /** `syncing`, `binding`, `retrying`, `serving.wellKnownPort`, `serving.fallbackPort`, `stopped`. */
  state(): string;
  stop(): void;
}

/** The host's resolvers, as glibc reads them (none when the file is missing). */
export function hostResolvers(path = "/etc/resolv.conf"): string[] {
  try {
    return parseResolvConf(readFileSync(path, "utf8")).nameservers;
  } catch {
    return EMPTY_RESOLV_CONF.nameservers;
  }
}

function isPermissionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EACCES" || code === "EPERM";
}

/** Starts the DNS actor and its three informers in `system`. */
export function startDns(options: DnsOptions): DnsHandle {
  const { system, logger } = options;
  const limits = { ...DEFAULT_DNS_LIMITS, ...options.limits };
  const tally = options.tally ?? new QueryTally();
  const server = new DnsThread(
    {
      host: options.host,
      zoneConfig: {
        domain: (options.domain ?? DEFAULT_CLUSTER_DOMAIN).toLowerCase().replace(/\.$/, ""),
        ttlSeconds: limits.ttlSeconds,
      },
      limits,
      // a resolver that is this server itself would loop a query forever
      upstreams: (options.upstreams ?? hostResolvers()).filter((s) => s !== options.host),
      logLevel: logger.level,
      tallyIntervalMs: TALLY_INTERVAL_MS,
    },
    tally,
    logger,
  );
  const candidates = options.ports ?? [DNS_PORT, FALLBACK_DNS_PORT];
  const informers: Informer[] = [];
  const port: DnsPort = {
    informersSynced: () => informers.length === 3 && informers.every((i) => i.hasSynced()),
    listen: async () => {
      for (const [i, candidate] of candidates.entries()) {
        try {
          await server.listen(candidate);
          logger.info({ host: options.host, port: candidate }, "dns server listening");
          return candidate;
        } catch (error) {
          // only a missing privilege moves on to the fallback; anything else is retried
          if (!isPermissionError(error) || i === candidates.length - 1) throw error;
          logger.info({ port: candidate, error: String(error) }, "dns: cannot bind, falling back");
        }
      }
      throw new Error("no DNS port to bind");
    },
    stop: () => server.stop(),
  };
  const actor = system.spawn(DNS_ACTOR, dnsMachine, { input: { port } });
  const start = (resource: string, handlers: Parameters<typeof Informer.start>[0]["handlers"]) =>
    Informer.start({
      resource,
      source: options.source,
      clock: system.clock,
      system,
      name: `${DNS_ACTOR}:${resource}`,
      handlers,
    });
  const feed = (record: ZoneChangeOp, forget: ZoneChangeOp) => ({
    add: (object: JsonObject) => server.change(record, object),
    update: (_: JsonObject, object: JsonObject) => server.change(record, object),
    delete: (object: JsonObject) => server.change(forget, object),
  });
  informers.push(
    start("services", feed("recordService", "forgetService")),
    start("endpointslices.discovery.k8s.io", feed("recordSlice", "forgetSlice")),
    start("pods", feed("recordPod", "forgetPod")),
  );
  const notifySynced = () => {
    if (port.informersSynced()) actor.send({ type: "informers.synced" });
  };
  const subscriptions = informers.map((i) => i.actor.subscribe(notifySynced));
  return {
    port: () =>
      actor.getSnapshot().matches("serving") ? actor.getSnapshot().context.boundPort : 0,
    state: () => {
      const value = actor.getSnapshot().value;
      return typeof value === "string" ? value : `serving.${String(value.serving)}`;
    },
    stop: () => {
      for (const s of subscriptions) s.unsubscribe();
      for (const i of informers) i.stop();
      actor.send({ type: "dns.stop" });
    },
  };
}
