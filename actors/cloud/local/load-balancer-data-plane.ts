/**
 * The local cloud's load balancer data plane: the "appliance" that serves every load balancer
 * record of the cloud's state directory with real listeners. It is the cloud's, not the
 * cluster's: it does not talk to the API server and does not depend on the cloud controller
 * manager, so a CCM failover leaves every listener and connection as it is (the new leader
 * rewrites the same records; `apply` sees nothing to change).
 *
 *   standby ──(holderRetry)──▶ acquiring ──lock held──▶ holding ─┬─ watching ──(statePoll)──▶ watching
 *      ▲                          │                              │  state.changed / health.changed
 *      └──── another holds it ────┘                              └─ re-read, re-point
 *   any ──dataplane.stop──▶ stopped
 *
 * External IPs are loopback addresses of this host, so one process per host and cloud serves
 * them: the one holding the host lock (an abstract unix socket the kernel frees when the process
 * dies, as the service proxy's cluster-IP lock). Every node process of the cloud runs this
 * machine; the others stand by and take over within `holderRetryMs` of the holder's death.
 */
import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "pino";
import { fromPromise, setup } from "xstate";
import type { ActorSystem } from "../../system/actor-system.ts";
import { DEFAULT_LOAD_BALANCER_LIMITS, type LoadBalancerLimits } from "./limits.ts";
import {
  type ForwarderFactory,
  LoadBalancerListeners,
  type ServedLoadBalancerReport,
} from "./load-balancer-listeners.ts";
import type { LocalCloudState } from "./local-cloud-state.ts";

export const LOAD_BALANCER_DATA_PLANE_ACTOR = "cloud-lb-data-plane";

/** What the statechart drives, behind a narrow port (as the proxy's). */
export interface DataPlanePort {
  tryAcquireLock(): Promise<boolean>;
  setHolding(holding: boolean): void;
  /** Re-reads the state directory and converges the listeners on it. */
  syncState(): void;
  /** Re-points the forwarders after a backend's health flipped. */
  refreshEndpoints(): void;
  stop(): void;
}

export type DataPlaneEvent =
  | { type: "state.changed" }
  | { type: "health.changed" }
  | { type: "dataplane.stop" };

interface DataPlaneContext {
  port: DataPlanePort;
  holderRetryMs: number;
  statePollMs: number;
}

export const loadBalancerDataPlaneMachine = setup({
  types: {
    context: {} as DataPlaneContext,
    input: {} as DataPlaneContext,
    events: {} as DataPlaneEvent,
  },
  actors: {
    acquireLock: fromPromise<boolean, { port: DataPlanePort }>(({ input }) =>
      input.port.tryAcquireLock(),
    ),
  },
  delays: {
    holderRetry: ({ context }) => context.holderRetryMs,
    statePoll: ({ context }) => context.statePollMs,
  },
  guards: {
    lockHeld: (_, held: boolean) => held,
  },
  actions: {
    openListeners: ({ context }) => context.port.setHolding(true),
    closeListeners: ({ context }) => context.port.setHolding(false),
    syncState: ({ context }) => context.port.syncState(),
    refreshEndpoints: ({ context }) => context.port.refreshEndpoints(),
    stopServing: ({ context }) => context.port.stop(),
  },
}).createMachine({
  id: "cloud-lb-data-plane",
  context: ({ input }) => input,
  initial: "acquiring",
  on: { "dataplane.stop": { target: ".stopped" } },
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
        onError: { target: "standby" },
      },
    },
    holding: {
      entry: ["openListeners", "syncState"],
      exit: "closeListeners",
      on: {
        "state.changed": { actions: "syncState" },
        "health.changed": { actions: "refreshEndpoints" },
      },
      initial: "watching",
      states: {
        watching: {
          after: { statePoll: { target: "watching", reenter: true, actions: "syncState" } },
        },
      },
    },
    stopped: { type: "final", entry: "stopServing" },
  },
});

export interface DataPlaneOptions {
  system: ActorSystem;
  state: LocalCloudState;
  forwarders: ForwarderFactory;
  /** The host lock (see actors/proxy/host-lock.ts), named for this cloud. */
  lock: { tryAcquire(): Promise<boolean>; release(): void };
  logger: Logger;
  limits?: Partial<LoadBalancerLimits>;
  actorName?: string;
}

export interface DataPlaneHandle {
  /** "standby", "acquiring", "holding" or "stopped". */
  state(): string;
  report(): ServedLoadBalancerReport[];
  stop(): void;
}

export function startLoadBalancerDataPlane(options: DataPlaneOptions): DataPlaneHandle {
  const { system, state, logger } = options;
  const limits = { ...DEFAULT_LOAD_BALANCER_LIMITS, ...options.limits };
  let send: (event: DataPlaneEvent) => void = () => undefined;
  const listeners = new LoadBalancerListeners(options.forwarders, system.clock, limits, () =>
    send({ type: "health.changed" }),
  );
  let watcher: FSWatcher | null = null;
  const port: DataPlanePort = {
    tryAcquireLock: () => options.lock.tryAcquire(),
    setHolding: (holding) => {
      if (holding) {
        // fs events are the fast path from a CCM's write to a listener; the poll is the fallback
        watcher = watch(state.lbDir, () => send({ type: "state.changed" }));
        watcher.on("error", () => undefined);
      } else {
        watcher?.close();
        watcher = null;
        listeners.closeAll();
        options.lock.release();
      }
      logger.info({ holding }, holding ? "serving the load balancers" : "stopped serving");
    },
    syncState: () => {
      try {
        listeners.apply(state.loadBalancers());
      } catch (error) {
        logger.warn({ error: String(error) }, "cannot read the load balancers");
      }
    },
    refreshEndpoints: () => listeners.refreshEndpoints(),
    stop: () => {
      watcher?.close();
      watcher = null;
      listeners.closeAll();
      options.lock.release();
    },
  };
  const actor = system.spawn(
    options.actorName ?? LOAD_BALANCER_DATA_PLANE_ACTOR,
    loadBalancerDataPlaneMachine,
    {
      input: {
        port,
        holderRetryMs: limits.holderRetryMs,
        statePollMs: limits.statePollMs,
      },
    },
  );
  send = (event) => actor.send(event);
  return {
    state: () => {
      const value = actor.getSnapshot().value as string | Record<string, string>;
      return typeof value === "string" ? value : (Object.keys(value)[0] ?? "");
    },
    report: () => listeners.report(),
    stop: () => {
      if (actor.getSnapshot().status === "active") actor.send({ type: "dataplane.stop" });
    },
  };
}
