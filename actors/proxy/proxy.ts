/**
 * The service proxy of a node (DESIGN §7; kube-proxy in its userspace mode): fed by Service and
 * EndpointSlice informers, it forwards TCP and UDP from each cluster IP:port and NodePort to
 * the ready endpoints (proxier.ts does the forwarding; this statechart decides when).
 *
 *   syncing ──both informers listed──▶ serving
 *                                        standby ──(holderRetry)──▶ acquiring ──lock held──▶ holding
 *                                           ▲                           │
 *                                           └──────── another holds it ─┘
 *   any ──proxy.stop──▶ stopped
 *
 * - Every proxy serves its node's NodePorts from `serving` on.
 * - Cluster IPs are loopback addresses shared by all nodes on a host, so one proxy per host
 *   and cluster binds them: the one holding the host lock (host-lock.ts, an abstract unix
 *   socket the kernel frees when its process dies, even by SIGKILL). The others stand by and
 *   try the lock every `holderRetryMs` on the injected clock; the first to get it after the
 *   holder died binds the cluster-IP listeners (well within 1 s).
 * - A Service or slice change is one `service.changed` event, and `syncService` touches that
 *   Service's listeners only. Changes before the informers have listed are recorded, and the
 *   first sync applies them all at once.
 */
import type { Logger } from "pino";
import { assign, fromPromise, setup } from "xstate";
import type { JsonObject } from "../api/json.ts";
import type { ListWatcher } from "../client/api-client.ts";
import { Informer } from "../client/informer.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import { HostLock, hostLockName } from "./host-lock.ts";
import { DEFAULT_PROXY_LIMITS, type ProxyLimits } from "./limits.ts";
import { Proxier, type ServicePortReport } from "./proxier.ts";
import { type ProxyMode, resolveProxyMode } from "./proxy-mode.ts";

export const PROXY_ACTOR = "proxy";

/** What the statechart drives; the Proxier and the host lock, behind a narrow port. */
export interface ProxyPort {
  informersSynced(): boolean;
  syncService(key: string): void;
  syncAll(): void;
  tryAcquireLock(): Promise<boolean>;
  setHolding(holding: boolean): void;
  stop(): void;
}

interface ProxyContext {
  port: ProxyPort;
  holderRetryMs: number;
  syncs: number;
  lastError: string | null;
}

export type ProxyEvent =
  | { type: "informers.synced" }
  | { type: "service.changed"; service: string }
  | { type: "proxy.stop" };

export const proxyMachine = setup({
  types: {
    context: {} as ProxyContext,
    input: {} as { port: ProxyPort; holderRetryMs: number },
    events: {} as ProxyEvent,
  },
  actors: {
    acquireLock: fromPromise<boolean, { port: ProxyPort }>(({ input }) =>
      input.port.tryAcquireLock(),
    ),
  },
  delays: {
    holderRetry: ({ context }) => context.holderRetryMs,
  },
  guards: {
    informersSynced: ({ context }) => context.port.informersSynced(),
    lockHeld: (_, held: boolean) => held,
  },
  actions: {
    syncAllServices: assign(({ context }) => {
      context.port.syncAll();
      return { syncs: context.syncs + 1 };
    }),
    syncChangedService: assign(({ context, event }) => {
      if (event.type === "service.changed") context.port.syncService(event.service);
      return { syncs: context.syncs + 1 };
    }),
    openClusterIPListeners: ({ context }) => context.port.setHolding(true),
    closeClusterIPListeners: ({ context }) => context.port.setHolding(false),
    recordLockError: assign((_, error: string) => ({ lastError: error })),
    stopForwarding: ({ context }) => context.port.stop(),
  },
}).createMachine({
  id: "proxy",
  context: ({ input }) => ({
    port: input.port,
    holderRetryMs: input.holderRetryMs,
    syncs: 0,
    lastError: null,
  }),
  initial: "syncing",
  on: { "proxy.stop": { target: ".stopped" } },
  states: {
    syncing: {
      always: { guard: "informersSynced", target: "serving" },
      on: { "informers.synced": { guard: "informersSynced", target: "serving" } },
    },
    serving: {
      entry: "syncAllServices",
      on: { "service.changed": { actions: "syncChangedService" } },
      initial: "acquiring",
      states: {
        standby: {
          after: { holderRetry: { target: "acquiring" } },
        },
        acquiring: {
          invoke: {
            src: "acquireLock",
            input: ({ context }) => ({ port: context.port }),
            onDone: [
              {
                guard: { type: "lockHeld", params: ({ event }) => event.output },
                target: "holding",
              },
              { target: "standby" },
            ],
            onError: {
              target: "standby",
              actions: { type: "recordLockError", params: ({ event }) => String(event.error) },
            },
          },
        },
        holding: {
          entry: "openClusterIPListeners",
          exit: "closeClusterIPListeners",
        },
      },
    },
    stopped: { type: "final", entry: "stopForwarding" },
  },
});

export interface ProxyOptions {
  system: ActorSystem;
  source: ListWatcher;
  logger: Logger;
  nodeName: string;
  nodeAddress: string;
  /** Names the cluster: the proxies of one cluster on one host share one lock. */
  clusterIdentity: string;
  limits?: Partial<ProxyLimits>;
  /** The actor's name in `system` (default `proxy`); informers are `<name>:services` and so on. */
  actorName?: string;
  /** `--proxy-mode` (proxy-mode.ts); default "auto": a kernel mode where one works. */
  mode?: ProxyMode | "auto";
}

export interface ProxyHandle {
  report(): ServicePortReport[];
  /** "syncing", "standby", "acquiring", "holding" or "stopped". */
  holderState(): string;
  /** The data path in use: iptables, nftables or userspace. */
  mode(): ProxyMode;
  stop(): void;
}

/** Starts the proxy actor and its two informers in `system`. */
export function startProxy(options: ProxyOptions): ProxyHandle {
  const { system } = options;
  const name = options.actorName ?? PROXY_ACTOR;
  const limits = { ...DEFAULT_PROXY_LIMITS, ...options.limits };
  const { mode, fallbackReason } = resolveProxyMode(options.mode ?? "auto");
  if (fallbackReason !== null)
    options.logger.warn({ reason: fallbackReason }, "the service proxy runs in userspace mode");
  else options.logger.info({ mode }, "service proxy mode");
  const proxier = new Proxier({
    nodeName: options.nodeName,
    nodeAddress: options.nodeAddress,
    clock: system.clock,
    logger: options.logger,
    limits,
    mode,
    clusterIdentity: options.clusterIdentity,
  });
  const lock = new HostLock(hostLockName(options.clusterIdentity));
  const informers: Informer[] = [];
  const port: ProxyPort = {
    informersSynced: () => informers.length === 2 && informers.every((i) => i.hasSynced()),
    syncService: (key) => proxier.syncService(key),
    syncAll: () => proxier.syncAll(),
    tryAcquireLock: () => lock.tryAcquire(),
    setHolding: (holding) => {
      proxier.setHolding(holding);
      if (!holding) lock.release();
      options.logger.info(
        { holding },
        holding ? "holding the cluster-IP listeners" : "released the cluster-IP listeners",
      );
    },
    stop: () => {
      proxier.stop();
      lock.release();
    },
  };
  const actor = system.spawn(name, proxyMachine, {
    input: { port, holderRetryMs: limits.holderRetryMs },
  });
  const changed = (services: string | string[]) => {
    for (const service of typeof services === "string" ? [services] : services)
      actor.send({ type: "service.changed", service });
  };
  const start = (resource: string, handlers: Parameters<typeof Informer.start>[0]["handlers"]) =>
    Informer.start({
      resource,
      source: options.source,
      clock: system.clock,
      system,
      name: `${name}:${resource}`,
      handlers,
    });
  informers.push(
    start("services", {
      add: (svc: JsonObject) => changed(proxier.recordService(svc)),
      update: (_: JsonObject, svc: JsonObject) => changed(proxier.recordService(svc)),
      delete: (svc: JsonObject) => changed(proxier.forgetService(svc)),
    }),
    start("endpointslices.discovery.k8s.io", {
      add: (slice: JsonObject) => changed(proxier.recordSlice(slice)),
      update: (before: JsonObject, slice: JsonObject) =>
        changed(proxier.recordSlice(slice, before)),
      delete: (slice: JsonObject) => changed(proxier.forgetSlice(slice)),
    }),
  );
  const notifySynced = () => {
    if (port.informersSynced()) actor.send({ type: "informers.synced" });
  };
  const subscriptions = informers.map((i) => i.actor.subscribe(notifySynced));
  return {
    report: () => proxier.report(),
    holderState: () => {
      const value = actor.getSnapshot().value as string | { serving: string };
      return typeof value === "string" ? value : value.serving;
    },
    mode: () => proxier.mode,
    stop: () => {
      for (const s of subscriptions) s.unsubscribe();
      for (const i of informers) i.stop();
      actor.send({ type: "proxy.stop" });
    },
  };
}
