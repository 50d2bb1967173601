/**
 * The controller manager (kube-controller-manager): one per server, all of them candidates for
 * one Lease; every one runs the informers, the leader runs every controller on them, the others
 * stand by with warm caches. A leader
 * that loses its lease stops its controllers before anyone else can start theirs (the renew
 * deadline is shorter than the lease).
 *
 *   standby ──elected──▶ leading (invokes the controllers) ──lost──▶ standby
 *      └──────────── stop ────────────┴──▶ stopping (lease released) ──▶ stopped
 *
 * Leader election is an invoked child statechart (`leader-election.ts`); the informers live as
 * long as the manager (a standby keeps its caches warm), the reconcile loops exactly as long as
 * the `leading` state.
 */

import type { Logger } from "pino";
import { type AnyActorRef, fromCallback, sendTo, setup } from "xstate";
import { KUBE_SYSTEM_NAMESPACE } from "../api/well-known.ts";
import type { ListWatcher, ObjectApi } from "../client/api-client.ts";
import { EventBroadcaster } from "../client/event-recorder.ts";
import { type LeaderElectionTimings, leaderElectionMachine } from "../client/leader-election.ts";
import { SharedInformers } from "../client/shared-informers.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import { clusterRoleAggregationController } from "./clusterrole-aggregation.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import {
  type RunningController,
  type WiredController,
  wireController,
} from "./controller-runner.ts";
import { cronJobController } from "./cronjob.ts";
import { deploymentController } from "./deployment.ts";
import { disruptionController } from "./disruption.ts";
import { endpointSliceController } from "./endpoint-slices.ts";
import { endpointsController } from "./endpoints.ts";
import { GC_RESOURCES, garbageCollector } from "./garbage-collector.ts";
import { type HpaOptions, horizontalPodAutoscalerController } from "./horizontal-pod-autoscaler.ts";
import { jobController } from "./job.ts";
import { namespaceController } from "./namespace.ts";
import { nodeLifecycleController } from "./node-lifecycle.ts";
import {
  persistentVolumeClaimController,
  persistentVolumeController,
} from "./persistent-volume.ts";
import { replicaSetController } from "./replicaset.ts";
import { serviceIPAllocationController } from "./service-ip-allocation.ts";
import { serviceAccountsController } from "./serviceaccounts.ts";
import type { WorkQueueLimits } from "./work-queue.ts";

export type ControllerFactory = (ctx: ControllerContext) => ControllerDefinition;

/** What kube-controller-manager's flags set: the node lifecycle and HPA controllers' timings. */
export interface ControllerFlags {
  nodeMonitorGracePeriodMs?: number;
  hpa?: Partial<HpaOptions>;
}

/** The default controllers, with the flags' timings. */
export function controllersWith(flags: ControllerFlags): readonly ControllerFactory[] {
  return DEFAULT_CONTROLLERS.map((f) => {
    if (f === nodeLifecycle && flags.nodeMonitorGracePeriodMs !== undefined) {
      const nodeMonitorGracePeriodMs = flags.nodeMonitorGracePeriodMs;
      return (ctx: ControllerContext) => nodeLifecycleController(ctx, { nodeMonitorGracePeriodMs });
    }
    if (f === horizontalPodAutoscaler && flags.hpa !== undefined) {
      const hpa = flags.hpa;
      return (ctx: ControllerContext) => horizontalPodAutoscalerController(ctx, hpa);
    }
    return f;
  });
}

const nodeLifecycle: ControllerFactory = (ctx) => nodeLifecycleController(ctx);
const horizontalPodAutoscaler: ControllerFactory = (ctx) => horizontalPodAutoscalerController(ctx);

export const DEFAULT_CONTROLLERS: readonly ControllerFactory[] = [
  deploymentController,
  (ctx) => replicaSetController(ctx),
  namespaceController,
  nodeLifecycle,
  endpointsController,
  (ctx) => endpointSliceController(ctx),
  (ctx) => serviceIPAllocationController(ctx),
  disruptionController,
  (ctx) => jobController(ctx),
  cronJobController,
  persistentVolumeClaimController,
  persistentVolumeController,
  horizontalPodAutoscaler,
  clusterRoleAggregationController,
  serviceAccountsController,
  ...GC_RESOURCES.map((r) => (ctx: ControllerContext) => garbageCollector(ctx, r)),
];

export const CONTROLLER_MANAGER_LEASE_NAMESPACE = KUBE_SYSTEM_NAMESPACE;
export const CONTROLLER_MANAGER_LEASE_NAME = "kube-controller-manager";

export interface ControllerManagerOptions {
  system: ActorSystem;
  /** Reads, writes, lists and watches (an ApiClient). */
  api: ObjectApi & ListWatcher;
  /** Defaults to the system's clock. */
  clock?: Clock;
  logger?: Logger;
  /** This candidate's holderIdentity (e.g. the node id); unique per manager. */
  identity: string;
  /** Lease writes (default: `api`); give it a short request timeout if you like. */
  leaseApi?: ObjectApi;
  leaseNamespace?: string;
  leaseName?: string;
  leaderElection?: Partial<LeaderElectionTimings>;
  controllers?: readonly ControllerFactory[];
  queueLimits?: Partial<WorkQueueLimits>;
  /** The actor's name in `system` (default `controller-manager`). */
  actorName?: string;
}

export interface ControllerManagerHandle {
  readonly actor: AnyActorRef;
  isLeader(): boolean;
  /** "standby" | "leading" | "stopping" | "stopped". */
  state(): unknown;
  /** The running controllers while leading (for tests and inspection). */
  controllers(): RunningController[];
  /** Stops the controllers and releases the lease (a successor takes over at once). */
  stop(): Promise<void>;
  /** Stops everything without releasing the lease, as a crash would (for tests). */
  kill(): void;
}

interface ManagerContext {
  options: ControllerManagerOptions;
  clock: Clock;
  running: { current: RunningController[] };
  caches: { current: WarmCaches | null };
}

/** The informers and the controllers wired to them, kept for the manager's whole life. */
interface WarmCaches {
  informers: SharedInformers;
  controllers: WiredController[];
}

type ManagerEvent = { type: "leader.elected" } | { type: "leader.lost" } | { type: "manager.stop" };

function managerName(options: ControllerManagerOptions): string {
  return options.actorName ?? "controller-manager";
}

function ownerOf(options: ControllerManagerOptions) {
  // informers and reconcile loops are the manager's children in the actor system
  return { system: options.system, parent: managerName(options) };
}

/**
 * Every server's manager lists and watches, leading or not (controller-runtime's manager runs
 * its caches regardless of leader election): a new leader starts from synced caches.
 */
const keepCachesWarm = fromCallback<
  ManagerEvent,
  { options: ControllerManagerOptions; clock: Clock; caches: { current: WarmCaches | null } }
>(({ input }) => {
  const { options, clock } = input;
  const informers = new SharedInformers({ source: options.api, clock, owner: ownerOf(options) });
  const events = new EventBroadcaster({
    api: options.api,
    clock,
    onError: (problem) => options.logger?.warn(problem),
  });
  const ctx: ControllerContext = { api: options.api, cache: informers, clock, events };
  const controllers = (options.controllers ?? DEFAULT_CONTROLLERS).map((f) =>
    wireController(f(ctx), informers),
  );
  input.caches.current = { informers, controllers };
  // after the manager's spawn: the informers are its children in the actor system
  let stopped = false;
  queueMicrotask(() => {
    if (!stopped) informers.start();
  });
  return () => {
    stopped = true;
    informers.stop();
    events.stop();
    input.caches.current = null;
  };
});

const runControllers = fromCallback<
  ManagerEvent,
  {
    options: ControllerManagerOptions;
    clock: Clock;
    running: { current: RunningController[] };
    caches: { current: WarmCaches | null };
  }
>(({ input }) => {
  const { options, clock } = input;
  const wired = input.caches.current?.controllers ?? [];
  const controllers = wired.map((c) => c.start(clock, options.queueLimits, ownerOf(options)));
  input.running.current = controllers;
  options.logger?.info({ controllers: wired.map((c) => c.name) }, "controllers started");
  return () => {
    for (const c of controllers) c.stop();
    input.running.current = [];
    options.logger?.info("controllers stopped");
  };
});

export const controllerManagerMachine = setup({
  types: {
    context: {} as ManagerContext,
    input: {} as { options: ControllerManagerOptions; running: { current: RunningController[] } },
    events: {} as ManagerEvent,
  },
  actors: { leaderElection: leaderElectionMachine, runControllers, keepCachesWarm },
  actions: {
    releaseLease: sendTo("election", { type: "election.stop" }),
  },
}).createMachine({
  id: "controller-manager",
  context: ({ input }) => ({
    options: input.options,
    clock: input.options.clock ?? input.options.system.clock,
    running: input.running,
    caches: { current: null },
  }),
  invoke: [
    {
      src: "keepCachesWarm",
      input: ({ context }) => ({
        options: context.options,
        clock: context.clock,
        caches: context.caches,
      }),
    },
    {
      id: "election",
      src: "leaderElection",
      input: ({ context, self }) => ({
        ...context.options.leaderElection,
        api: context.options.leaseApi ?? context.options.api,
        clock: context.clock,
        namespace: context.options.leaseNamespace ?? CONTROLLER_MANAGER_LEASE_NAMESPACE,
        leaseName: context.options.leaseName ?? CONTROLLER_MANAGER_LEASE_NAME,
        identity: context.options.identity,
        // delivered after the election's own transition: starting informers and controllers
        // inside its action would run them in the middle of another actor's macrostep
        onStartedLeading: () => queueMicrotask(() => self.send({ type: "leader.elected" })),
        onStoppedLeading: () => queueMicrotask(() => self.send({ type: "leader.lost" })),
      }),
      onDone: { target: ".stopped" },
    },
  ],
  initial: "standby",
  states: {
    standby: {
      on: {
        "leader.elected": { target: "leading" },
        "manager.stop": { target: "stopping" },
      },
    },
    leading: {
      invoke: {
        src: "runControllers",
        input: ({ context }) => ({
          options: context.options,
          clock: context.clock,
          running: context.running,
          caches: context.caches,
        }),
      },
      on: {
        "leader.lost": { target: "standby" },
        "manager.stop": { target: "stopping" },
      },
    },
    stopping: { entry: "releaseLease" },
    stopped: { type: "final" },
  },
});

/**
 * Starts a controller manager in `system` as actor `controller-manager`: it campaigns for the
 * `kube-system/kube-controller-manager` Lease and, while it holds it, runs the Deployment,
 * ReplicaSet, namespace, node lifecycle and garbage-collector controllers over shared informers.
 */
export function startControllerManager(options: ControllerManagerOptions): ControllerManagerHandle {
  const running = { current: [] as RunningController[] };
  const input = { options, running };
  const actor = options.system.spawn(managerName(options), controllerManagerMachine, {
    input,
    supervise: false,
  });
  return {
    actor,
    isLeader: () => actor.getSnapshot().value === "leading",
    state: () => actor.getSnapshot().value,
    controllers: () => running.current,
    stop: () =>
      new Promise<void>((resolve) => {
        if (actor.getSnapshot().status !== "active") return resolve();
        const sub = actor.subscribe({
          next: (s: { status: string }) => {
            if (s.status !== "active") {
              sub.unsubscribe();
              resolve();
            }
          },
          complete: () => resolve(),
        });
        actor.send({ type: "manager.stop" });
      }),
    kill: () => actor.stop(),
  };
}
