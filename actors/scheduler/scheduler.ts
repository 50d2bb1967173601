/**
 * The scheduler actor (DESIGN §7): informers on pods and nodes feed the cache and the queue;
 * the statechart takes one pod at a time through the per-pod statechart and writes the outcome
 * back (binding, PodScheduled condition, Event).
 *
 *   waiting (caches syncing) ──▶ idle ⇄ scheduling (invokes pod-scheduling) ──stop──▶ stopped
 *
 * Pods name their scheduler (`spec.schedulerName`); pods for another scheduler are left alone,
 * so several schedulers run side by side. Leader election: not yet (see `elect`).
 */
import type { Logger } from "pino";
import { assign, setup } from "xstate";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import type { ApiClient } from "../apiserver/api-client.ts";
import { ApiError } from "../apiserver/api-error.ts";
import { Informer } from "../controllers/informer.ts";
import { objectCacheKey } from "../controllers/informer-cache.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import { DEFAULT_PROFILE } from "./default-profile.ts";
import { type Profile, seededRandom } from "./framework.ts";
import { podKey } from "./node-info.ts";
import { type BindPod, type PodSchedulingOutcome, podSchedulingMachine } from "./pod-scheduling.ts";
import { isTerminated, nodeNameOf, SchedulerCache } from "./scheduler-cache.ts";
import { podEvent, podScheduledConditionPatch, scheduledMessage } from "./scheduling-outcome.ts";
import { type QueuedPod, SchedulingQueue } from "./scheduling-queue.ts";

export const DEFAULT_SCHEDULER_NAME = "default-scheduler";
/** How often idle flushes ended backoffs (kube flushes backoffQ every 1 s). */
export const QUEUE_FLUSH_INTERVAL_MS = 1_000;

/** What the statechart needs from the world: kept out of the machine so tests can fake it. */
export interface SchedulerPorts {
  queue: SchedulingQueue;
  cache: SchedulerCache;
  profile: Profile;
  random: () => number;
  clock: Clock;
  bind: BindPod;
  /** Caches listed (client-go's WaitForCacheSync). */
  synced: () => boolean;
  /** Writes the outcome back (condition, event); must not throw. */
  report: (pod: QueuedPod, outcome: PodSchedulingOutcome) => void;
}

export type SchedulerEvent = { type: "queue.changed" } | { type: "scheduler.stop" };

interface SchedulerContext {
  ports: SchedulerPorts;
  current: QueuedPod | null;
  scheduled: number;
  failed: number;
}

function isConflict(error: unknown): boolean {
  return error instanceof ApiError && error.status.code === 409;
}

export const schedulerMachine = setup({
  types: {
    context: {} as SchedulerContext,
    input: {} as SchedulerPorts,
    events: {} as SchedulerEvent,
  },
  actors: { podScheduling: podSchedulingMachine },
  delays: { queueFlushInterval: QUEUE_FLUSH_INTERVAL_MS },
  guards: {
    cachesSynced: ({ context }) => context.ports.synced(),
    hasActivePod: ({ context }) => context.ports.queue.hasActive(),
  },
  actions: {
    flushQueue: ({ context }) => context.ports.queue.flush(context.ports.clock.nowMs()),
    popPod: assign({ current: ({ context }) => context.ports.queue.pop() ?? null }),
    applyOutcome: assign(({ context, event }) => {
      const { queue, clock } = context.ports;
      const pod = context.current as QueuedPod;
      const outcome = (event as unknown as { output: PodSchedulingOutcome }).output;
      const now = clock.nowMs();
      if (outcome.outcome === "bound") queue.done(pod.info.key);
      else if (outcome.outcome === "unschedulable") queue.requeueUnschedulable(pod, now);
      else if (isConflict(outcome.error))
        queue.done(pod.info.key); // bound by someone else
      else queue.requeueAfterError(pod, now);
      context.ports.report(pod, outcome);
      const ok = outcome.outcome === "bound";
      return {
        current: null,
        scheduled: context.scheduled + (ok ? 1 : 0),
        failed: context.failed + (ok ? 0 : 1),
      };
    }),
    requeueAfterCrash: assign(({ context }) => {
      if (context.current)
        context.ports.queue.requeueAfterError(context.current, context.ports.clock.nowMs());
      return { current: null };
    }),
  },
}).createMachine({
  id: "scheduler",
  context: ({ input }) => ({ ports: input, current: null, scheduled: 0, failed: 0 }),
  initial: "waiting",
  on: { "scheduler.stop": { target: ".stopped" } },
  states: {
    waiting: {
      always: { guard: "cachesSynced", target: "idle" },
      after: { queueFlushInterval: { target: "waiting", reenter: true } },
      on: { "queue.changed": { target: "waiting", reenter: true } },
    },
    idle: {
      entry: "flushQueue",
      always: { guard: "hasActivePod", target: "scheduling" },
      after: { queueFlushInterval: { target: "idle", reenter: true } },
      on: { "queue.changed": { target: "idle", reenter: true } },
    },
    scheduling: {
      entry: "popPod",
      invoke: {
        id: "pod-scheduling",
        src: "podScheduling",
        input: ({ context }) => ({
          pod: context.current as QueuedPod,
          cache: context.ports.cache,
          profile: context.ports.profile,
          random: context.ports.random,
          bind: context.ports.bind,
        }),
        onDone: { target: "idle", actions: "applyOutcome" },
        onError: { target: "idle", actions: "requeueAfterCrash" },
      },
    },
    stopped: { type: "final" },
  },
});

// ---- wiring to the API ---------------------------------------------------------------------

export interface StartSchedulerOptions {
  system: ActorSystem;
  api: ApiClient;
  clock: Clock;
  logger: Logger;
  /** Pods with this `spec.schedulerName` are ours (default "default-scheduler"). */
  schedulerName?: string;
  profile?: Profile;
  /** Seeds the tie-breaking among equally scored nodes. */
  seed?: number;
  /**
   * Run only while holding the scheduler's Lease. Not available yet: leader election
   * (`actors/controllers/leader-election.ts`) has not landed; true throws. Default false: this
   * instance schedules unconditionally, so run one per scheduler name.
   */
  elect?: boolean;
}

export interface SchedulerHandle {
  readonly schedulerName: string;
  /** The statechart's state: "waiting", "idle", "scheduling", "stopped". */
  state(): unknown;
  queueSizes(): ReturnType<SchedulingQueue["sizes"]>;
  stop(): void;
}

function isOurs(pod: JsonObject, schedulerName: string): boolean {
  const wanted = asString(asObject(pod.spec).schedulerName) || DEFAULT_SCHEDULER_NAME;
  return wanted === schedulerName;
}

export function startScheduler(options: StartSchedulerOptions): SchedulerHandle {
  const { system, api, clock, logger } = options;
  const schedulerName = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
  if (options.elect) throw new Error("scheduler: leader election is not available yet");
  const log = logger.child({ component: "scheduler", schedulerName });
  const queue = new SchedulingQueue();
  const cache = new SchedulerCache();
  /** The last FailedScheduling message per pod: an event only when it changes. */
  const lastFailure = new Map<string, string>();
  let notifyPending = false;
  let eventCounter = 0;
  const eventSuffix = () =>
    `${Math.floor(clock.wallMs()).toString(16)}${(++eventCounter).toString(16)}`;
  let stopped = false;

  // coalesced, and after the informer's own step (its synced flag is set after the handlers)
  const notify = () => {
    if (notifyPending || stopped) return;
    notifyPending = true;
    clock.setTimeout(() => {
      notifyPending = false;
      if (!stopped) actor.send({ type: "queue.changed" });
    }, 0);
  };

  const onPod = (pod: JsonObject) => {
    const key = podKey(pod);
    if (nodeNameOf(pod) !== null || isTerminated(pod)) {
      queue.done(key);
      lastFailure.delete(key);
      cache.setPod(pod);
    } else if (isOurs(pod, schedulerName)) {
      if (!queue.add(pod, clock.nowMs())) log.error({ pod: key }, "scheduling queue full");
    }
    notify();
  };

  const podInformer = Informer.start({
    resource: "pods",
    source: api,
    clock,
    system,
    name: `${schedulerName}:informer:pods`,
    handlers: {
      add: onPod,
      update: (_old, pod) => onPod(pod),
      delete: (pod) => {
        const key = podKey(pod);
        const wasPlaced = nodeNameOf(pod) !== null;
        queue.delete(key);
        lastFailure.delete(key);
        cache.removePod(key);
        if (wasPlaced) queue.moveAllToActiveOrBackoff(clock.nowMs());
        notify();
      },
    },
  });

  const onNode = (node: JsonObject) => {
    cache.setNode(node);
    queue.moveAllToActiveOrBackoff(clock.nowMs());
    notify();
  };
  const nodeInformer = Informer.start({
    resource: "nodes",
    source: api,
    clock,
    system,
    name: `${schedulerName}:informer:nodes`,
    handlers: {
      add: onNode,
      update: (_old, node) => onNode(node),
      delete: (node) => {
        cache.removeNode(objectCacheKey(node));
        notify();
      },
    },
  });

  const bind: BindPod = async (queued, nodeName) => {
    const meta = asObject(queued.info.pod.metadata);
    const binding: JsonObject = {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: asString(meta.name), namespace: queued.info.namespace },
      target: { apiVersion: "v1", kind: "Node", name: nodeName },
    };
    await api.create("pods", binding, { namespace: queued.info.namespace, subresource: "binding" });
  };

  const writeBack = async (queued: QueuedPod, outcome: PodSchedulingOutcome) => {
    const pod = queued.info.pod;
    const namespace = queued.info.namespace;
    const name = asString(asObject(pod.metadata).name);
    const nowIso = new Date(clock.wallMs()).toISOString();
    if (outcome.outcome === "bound") {
      lastFailure.delete(queued.info.key);
      await api.create(
        "events",
        podEvent(
          pod,
          schedulerName,
          "Normal",
          "Scheduled",
          scheduledMessage(pod, outcome.nodeName),
          nowIso,
          eventSuffix(),
        ),
        { namespace },
      );
      await api.patch("pods", name, "strategic", podScheduledConditionPatch(true, "", nowIso), {
        namespace,
        subresource: "status",
      });
      return;
    }
    const message =
      outcome.outcome === "unschedulable"
        ? outcome.message
        : `binding rejected: ${(outcome.error as Error)?.message ?? String(outcome.error)}`;
    if (outcome.outcome === "bindingFailed" && isConflict(outcome.error)) return;
    if (lastFailure.get(queued.info.key) === message) return;
    lastFailure.set(queued.info.key, message);
    await api.patch("pods", name, "strategic", podScheduledConditionPatch(false, message, nowIso), {
      namespace,
      subresource: "status",
    });
    await api.create(
      "events",
      podEvent(pod, schedulerName, "Warning", "FailedScheduling", message, nowIso, eventSuffix()),
      { namespace },
    );
  };

  const ports: SchedulerPorts = {
    queue,
    cache,
    profile: options.profile ?? DEFAULT_PROFILE,
    random: seededRandom(options.seed ?? 1),
    clock,
    bind,
    synced: () => podInformer.hasSynced() && nodeInformer.hasSynced(),
    report: (pod, outcome) => {
      if (outcome.outcome === "bound")
        log.info({ pod: pod.info.key, node: outcome.nodeName }, "scheduled");
      else if (outcome.outcome === "unschedulable")
        log.info({ pod: pod.info.key, reason: outcome.message }, "unschedulable");
      writeBack(pod, outcome).catch((error: Error) =>
        log.warn(
          { pod: pod.info.key, error: error.message },
          "writing the scheduling outcome failed",
        ),
      );
    },
  };

  const actor = system.spawn(`scheduler:${schedulerName}`, schedulerMachine, {
    input: ports,
    supervise: false,
  });

  return {
    schedulerName,
    state: () => actor.getSnapshot().value,
    queueSizes: () => queue.sizes(),
    stop: () => {
      if (stopped) return;
      stopped = true;
      actor.send({ type: "scheduler.stop" });
      podInformer.stop();
      nodeInformer.stop();
      system.despawn(`scheduler:${schedulerName}`); // a later leadership term spawns it again
    },
  };
}
