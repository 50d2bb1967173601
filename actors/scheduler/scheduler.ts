/**
 * The scheduler actor (DESIGN §7): informers on pods and nodes feed the cache and the queue;
 * the statechart takes pods one at a time through their scheduling cycle and lets up to
 * MAX_BINDINGS_IN_FLIGHT of them bind at once (kube-scheduler's asynchronous binding cycle),
 * writing each outcome back (the binding, which also sets PodScheduled; a failure's condition;
 * an Event).
 *
 *   waiting (caches syncing) ──▶ idle ⇄ scheduling ──stop──▶ stopped
 *
 * `scheduling` spawns the pod's statechart (pod-scheduling.ts), which filters, scores and
 * assumes the pod onto the chosen node, and lasts until it reports `pod.assumed` (its binding
 * is then in flight, the statechart in `binding`) or an outcome (unschedulable). Every binding
 * outcome, whenever it comes, is applied in any state: bound pods leave the queue, failed ones
 * go to backoff (their assumed resources already released). Filtering only ever runs for one
 * pod at a time, against a cache that counts every pod still binding, so a burst of pods never
 * overcommits a node.
 *
 * Pods name their scheduler (`spec.schedulerName`): each profile of the configuration
 * (config.ts) is one name with its own plugins; pods naming none of ours are left alone, so
 * several schedulers run side by side (`bosun scheduler` runs another). An unschedulable
 * outcome may carry a PostFilter's nomination (preemption): its victims are deleted and the pod
 * gets `status.nominatedNodeName`. Besides pods and nodes, the informers feed what plugins read:
 * PodDisruptionBudgets (preemption) and claims, volumes and classes (VolumeBinding). Leader
 * election is the caller's (cmd/node and cmd/scheduler start one scheduler per leadership term
 * and stop it when the term ends).
 */
import type { Logger } from "pino";
import { and, assertEvent, assign, setup, spawnChild, stopChild } from "xstate";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import { EventBroadcaster, withTypeMeta } from "../client/event-recorder.ts";
import { Informer } from "../client/informer.ts";
import { objectCacheKey } from "../client/informer-cache.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import {
  DEFAULT_SCHEDULER_NAME,
  defaultSchedulerConfiguration,
  type SchedulerConfiguration,
} from "./config.ts";
import {
  type FrameworkHandle,
  type PostFilterResult,
  type Profile,
  seededRandom,
} from "./framework.ts";
import { IN_TREE_REGISTRY } from "./in-tree-plugins.ts";
import { newPodInfo, podKey } from "./node-info.ts";
import {
  type PodSchedulingOutcome,
  type PodSchedulingReport,
  podSchedulingMachine,
} from "./pod-scheduling.ts";
import { buildProfile } from "./profile.ts";
import type { Registry } from "./registry.ts";
import { isTerminated, nodeNameOf, SchedulerCache } from "./scheduler-cache.ts";
import {
  podScheduledConditionPatch,
  preemptedMessage,
  scheduledMessage,
} from "./scheduling-outcome.ts";
import { type QueuedPod, SchedulingQueue } from "./scheduling-queue.ts";
import { VolumeCache } from "./volume-cache.ts";
import { WaitingPods } from "./waiting-pods.ts";

export { DEFAULT_SCHEDULER_NAME };
/** How often idle flushes ended backoffs (kube flushes backoffQ every 1 s). */
export const QUEUE_FLUSH_INTERVAL_MS = 1_000;
/**
 * Bindings (API calls) in flight at once; at the limit, the next scheduling cycle waits for one
 * to finish. kube-scheduler has no such bound (a goroutine per binding); bosun bounds it so a
 * slow or unavailable API server holds at most this many requests and assumed pods. 64 binds at
 * ~30 ms each allow ~2,000 pods/s, above the 1,000 pods/s target.
 */
export const MAX_BINDINGS_IN_FLIGHT = 64;

/** What the statechart needs from the world: kept out of the machine so tests can fake it. */
export interface SchedulerPorts {
  queue: SchedulingQueue;
  cache: SchedulerCache;
  waitingPods: WaitingPods;
  /** The profiles by `schedulerName`: a pod is scheduled with the one it names. */
  profiles: ReadonlyMap<string, Profile>;
  random: () => number;
  clock: Clock;
  /** Caches listed (client-go's WaitForCacheSync). */
  synced: () => boolean;
  /** Writes the outcome back (condition, event); must not throw. */
  report: (pod: QueuedPod, outcome: PodSchedulingOutcome) => void;
}

/** A pod's statechart threw (a plugin bug): xstate's error event, named by the child's id. */
type PodSchedulingCrash = { type: `xstate.error.actor.${string}`; error: unknown };

export type SchedulerEvent =
  | { type: "queue.changed" }
  | { type: "scheduler.stop" }
  | PodSchedulingReport
  | PodSchedulingCrash;

const CRASH_EVENT_PREFIX = "xstate.error.actor.";

/** The id of the pod statechart an event comes from ("" for the scheduler's own events). */
function podSchedulingIdOf(event: SchedulerEvent): string {
  if ("id" in event) return event.id;
  return event.type.startsWith(CRASH_EVENT_PREFIX)
    ? event.type.slice(CRASH_EVENT_PREFIX.length)
    : "";
}

interface SchedulerContext {
  ports: SchedulerPorts;
  /** The pod in its scheduling cycle, with its statechart's id. */
  cycle: { id: string; pod: QueuedPod } | null;
  /** Pods whose binding is in flight, by their statechart's id. */
  binding: ReadonlyMap<string, QueuedPod>;
  scheduled: number;
  failed: number;
}

/** A pod's statechart id: unique even when a pod is deleted and made again while binding. */
export function podSchedulingId(pod: QueuedPod): string {
  return `pod:${pod.info.key}:${pod.cycle}`;
}

/** The context without the pod of statechart `id`, and that pod (if it was ours). */
function takePod(
  context: SchedulerContext,
  id: string,
): { pod: QueuedPod | null } & Pick<SchedulerContext, "cycle" | "binding"> {
  if (context.cycle?.id === id)
    return { pod: context.cycle.pod, cycle: null, binding: context.binding };
  const pod = context.binding.get(id);
  if (pod === undefined) return { pod: null, cycle: context.cycle, binding: context.binding };
  const binding = new Map(context.binding);
  binding.delete(id);
  return { pod, cycle: context.cycle, binding };
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
    hasBindingSlot: ({ context }) => context.binding.size < MAX_BINDINGS_IN_FLIGHT,
    isCyclePod: ({ context, event }) => podSchedulingIdOf(event) === context.cycle?.id,
  },
  actions: {
    flushQueue: ({ context }) => context.ports.queue.flush(context.ports.clock.nowMs()),
    expireAssumedPods: ({ context }) => {
      const { cache, queue, clock } = context.ports;
      const now = clock.nowMs();
      // an expired pod's room is free again, as when a bound pod is deleted
      if (cache.expireAssumedPods(now).length > 0) queue.moveAllToActiveOrBackoff(now);
    },
    popPod: assign({
      cycle: ({ context }) => {
        const pod = context.ports.queue.pop();
        if (pod === undefined) throw new Error("scheduler: popped an empty queue");
        return { id: podSchedulingId(pod), pod };
      },
    }),
    spawnPodScheduling: spawnChild("podScheduling", {
      id: ({ context }) => (context.cycle as { id: string }).id,
      input: ({ context }) => {
        const pod = (context.cycle as { pod: QueuedPod }).pod;
        return {
          pod,
          cache: context.ports.cache,
          waitingPods: context.ports.waitingPods,
          profile: profileFor(context.ports.profiles, pod),
          random: context.ports.random,
        };
      },
    }),
    startBinding: assign(({ context }) => {
      const cycle = context.cycle as { id: string; pod: QueuedPod };
      const binding = new Map(context.binding).set(cycle.id, cycle.pod);
      if (binding.size > MAX_BINDINGS_IN_FLIGHT)
        throw new Error(`scheduler: ${binding.size} bindings in flight`);
      return { cycle: null, binding };
    }),
    applyOutcome: assign(({ context, event }) => {
      assertEvent(event, "pod.finished");
      const { pod, cycle, binding } = takePod(context, event.id);
      if (pod === null) return {};
      const { queue, cache, clock } = context.ports;
      const { outcome } = event;
      const now = clock.nowMs();
      if (outcome.outcome === "bound") {
        queue.done(pod.info.key);
        cache.finishBinding(pod.info.key, now);
      } else if (outcome.outcome === "unschedulable") queue.requeueUnschedulable(pod, now);
      else if (outcome.outcome === "rejected") {
        queue.requeueAfterError(pod, now);
        queue.moveAllToActiveOrBackoff(now); // its room is free again, as after a failed bind
      } else if (isConflict(outcome.error))
        queue.done(pod.info.key); // bound by someone else
      else {
        queue.requeueAfterError(pod, now);
        // the forgotten pod's room is free again (kube moves pods on AssignedPodDelete)
        queue.moveAllToActiveOrBackoff(now);
      }
      context.ports.report(pod, outcome);
      const ok = outcome.outcome === "bound";
      return {
        cycle,
        binding,
        scheduled: context.scheduled + (ok ? 1 : 0),
        failed: context.failed + (ok ? 0 : 1),
      };
    }),
    stopPodScheduling: stopChild(({ event }) => podSchedulingIdOf(event)),
    requeueAfterCrash: assign(({ context, event }) => {
      const { pod, cycle, binding } = takePod(context, podSchedulingIdOf(event));
      if (pod !== null) context.ports.queue.requeueAfterError(pod, context.ports.clock.nowMs());
      return { cycle, binding };
    }),
  },
}).createMachine({
  id: "scheduler",
  context: ({ input }) => ({
    ports: input,
    cycle: null,
    binding: new Map(),
    scheduled: 0,
    failed: 0,
  }),
  initial: "waiting",
  on: {
    "scheduler.stop": { target: ".stopped" },
    "pod.finished": { actions: ["applyOutcome", "stopPodScheduling"] },
    "xstate.error.actor.*": { actions: ["requeueAfterCrash", "stopPodScheduling"] },
  },
  states: {
    waiting: {
      always: { guard: "cachesSynced", target: "idle" },
      after: { queueFlushInterval: { target: "waiting", reenter: true } },
      on: { "queue.changed": { target: "waiting", reenter: true } },
    },
    idle: {
      entry: ["flushQueue", "expireAssumedPods"],
      always: { guard: and(["hasActivePod", "hasBindingSlot"]), target: "scheduling" },
      after: { queueFlushInterval: { target: "idle", reenter: true } },
      on: { "queue.changed": { target: "idle", reenter: true } },
    },
    scheduling: {
      entry: ["popPod", "spawnPodScheduling"],
      on: {
        "pod.assumed": { guard: "isCyclePod", target: "idle", actions: "startBinding" },
        "pod.finished": {
          guard: "isCyclePod",
          target: "idle",
          actions: ["applyOutcome", "stopPodScheduling"],
        },
        "xstate.error.actor.*": {
          guard: "isCyclePod",
          target: "idle",
          actions: ["requeueAfterCrash", "stopPodScheduling"],
        },
      },
    },
    // the pods' statecharts stop with it; bindings already sent may still land (see `stop`)
    stopped: { type: "final" },
  },
});

// ---- wiring to the API ---------------------------------------------------------------------

export interface StartSchedulerOptions {
  system: ActorSystem;
  api: ApiClient;
  clock: Clock;
  logger: Logger;
  /**
   * The profiles (KubeSchedulerConfiguration, config.ts): pods naming one of their
   * `schedulerName`s are ours. Default: one `default-scheduler` profile, default plugins.
   */
  config?: SchedulerConfiguration;
  /** Shortcut for a configuration of one default-plugins profile with this name. */
  schedulerName?: string;
  /** The plugins the configuration may name (default: the in-tree ones). */
  registry?: Registry;
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
  /** The first profile's name (the one this scheduler is known by). */
  readonly schedulerName: string;
  readonly schedulerNames: readonly string[];
  /** The statechart's state: "waiting", "idle", "scheduling", "stopped". */
  state(): unknown;
  queueSizes(): ReturnType<SchedulingQueue["sizes"]>;
  stop(): void;
}

function schedulerNameOf(pod: JsonObject): string {
  return asString(asObject(pod.spec).schedulerName) || DEFAULT_SCHEDULER_NAME;
}

/** The profile a pod names; only pods naming one of ours are ever queued. */
function profileFor(profiles: ReadonlyMap<string, Profile>, pod: QueuedPod): Profile {
  const profile = profiles.get(schedulerNameOf(pod.info.pod));
  if (profile === undefined) throw new Error(`scheduler: no profile for pod ${pod.info.key}`);
  return profile;
}

function configurationOf(options: StartSchedulerOptions): SchedulerConfiguration {
  if (options.config !== undefined) return options.config;
  const config = defaultSchedulerConfiguration();
  if (options.schedulerName !== undefined)
    for (const p of config.profiles) p.schedulerName = options.schedulerName;
  return config;
}

export function startScheduler(options: StartSchedulerOptions): SchedulerHandle {
  const { system, api, clock, logger } = options;
  const config = configurationOf(options);
  const schedulerNames = config.profiles.map((p) => p.schedulerName);
  const schedulerName = schedulerNames[0] ?? DEFAULT_SCHEDULER_NAME;
  if (options.elect) throw new Error("scheduler: leader election is not available yet");
  const log = logger.child({ component: "scheduler", schedulerName });
  const queue = new SchedulingQueue();
  const cache = new SchedulerCache();
  const waitingPods = new WaitingPods();
  const volumes = new VolumeCache(clock);
  const handle: FrameworkHandle = {
    cache,
    waitingPods,
    volumes,
    api,
    bindPod: async (info, nodeName) => {
      const binding: JsonObject = {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name: asString(asObject(info.pod.metadata).name), namespace: info.namespace },
        target: { apiVersion: "v1", kind: "Node", name: nodeName },
      };
      await api.create("pods", binding, { namespace: info.namespace, subresource: "binding" });
    },
  };
  const registry = options.registry ?? IN_TREE_REGISTRY;
  const profiles = new Map(
    config.profiles.map((p) => [p.schedulerName, buildProfile(p, registry, handle)] as const),
  );
  /** The last FailedScheduling message per pod: an event only when it changes. */
  const lastFailure = new Map<string, string>();
  let notifyTimer: TimerId | null = null;
  let stopped = false;

  // coalesced, and after the informer's own step (its synced flag is set after the handlers)
  const notify = () => {
    if (notifyTimer !== null || stopped) return;
    notifyTimer = clock.setTimeout(() => {
      notifyTimer = null;
      if (!stopped) actor.send({ type: "queue.changed" });
    }, 0);
  };

  const onPod = (pod: JsonObject) => {
    const key = podKey(pod);
    const pending = nodeNameOf(pod) === null && !isTerminated(pod);
    const nominated = asString(asObject(pod.status).nominatedNodeName);
    // every scheduler's nominations hold room (kube's nominator sees all pending pods)
    if (pending && nominated !== "") cache.setNominatedPod(newPodInfo(pod), nominated);
    else cache.clearNominatedPod(key);
    if (nodeNameOf(pod) !== null || isTerminated(pod)) {
      queue.done(key);
      lastFailure.delete(key);
      cache.setPod(pod);
    } else if (profiles.has(schedulerNameOf(pod)) && !cache.isAssumed(key)) {
      // an assumed pod is binding or bound (its bound version not seen yet): kube's
      // skipPodSchedule, so that a late event of the pending pod does not schedule it twice
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
        cache.clearNominatedPod(key);
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
  // claims, volumes and classes (VolumeBinding): a change may let a waiting pod fit
  const storageInformer = (
    resource: string,
    set: (o: JsonObject) => void,
    remove: (o: JsonObject) => void,
  ) =>
    Informer.start({
      resource,
      source: api,
      clock,
      system,
      name: `${schedulerName}:informer:${resource}`,
      handlers: {
        add: (o) => {
          set(o);
          queue.moveAllToActiveOrBackoff(clock.nowMs());
          notify();
        },
        update: (_old, o) => {
          set(o);
          queue.moveAllToActiveOrBackoff(clock.nowMs());
          notify();
        },
        delete: (o) => remove(o),
      },
    });
  const storageInformers = [
    storageInformer(
      "persistentvolumeclaims",
      (o) => volumes.setClaim(o),
      (o) => volumes.removeClaim(o),
    ),
    storageInformer(
      "persistentvolumes",
      (o) => volumes.setVolume(o),
      (o) => volumes.removeVolume(o),
    ),
    storageInformer(
      "storageclasses.storage.k8s.io",
      (o) => volumes.setClass(o),
      (o) => volumes.removeClass(o),
    ),
  ];

  // disruption budgets: what preemption must respect (no effect on which pods are queued)
  const pdbInformer = Informer.start({
    resource: "poddisruptionbudgets",
    source: api,
    clock,
    system,
    name: `${schedulerName}:informer:poddisruptionbudgets`,
    handlers: {
      add: (pdb) => cache.setPdb(pdb),
      update: (_old, pdb) => cache.setPdb(pdb),
      delete: (pdb) => cache.removePdb(objectCacheKey(pdb)),
    },
  });
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

  const events = new EventBroadcaster({
    api,
    clock,
    onError: (problem, event) =>
      log.warn({ event: asString(asObject(event.metadata).name) }, problem),
  });
  const recorder = events.newRecorder({ component: schedulerName });

  /**
   * Carries out a preemption (kube's `prepareCandidate`): the victims are deleted (gracefully:
   * their kubelets stop them), each told why by a Preempted event, and the pod is nominated
   * to the node (`status.nominatedNodeName`); it is tried again when the victims are gone.
   */
  const preempt = async (queued: QueuedPod, nomination: PostFilterResult) => {
    const pod = queued.info.pod;
    for (const victim of nomination.victims) {
      const victimName = asString(asObject(victim.pod.metadata).name);
      try {
        await api.delete("pods", victimName, { namespace: victim.namespace });
      } catch (error) {
        if (!isNotFound(error)) throw error; // gone already: what we wanted
      }
      log.info({ pod: queued.info.key, victim: victim.key }, "preempted");
      const message = preemptedMessage(pod, nomination.nominatedNodeName);
      recorder.event(withTypeMeta(victim.pod, "v1", "Pod"), "Normal", "Preempted", message);
    }
    const name = asString(asObject(pod.metadata).name);
    await api.patch(
      "pods",
      name,
      "merge",
      { status: { nominatedNodeName: nomination.nominatedNodeName } },
      { namespace: queued.info.namespace, subresource: "status" },
    );
  };

  const writeBack = async (queued: QueuedPod, outcome: PodSchedulingOutcome) => {
    const pod = queued.info.pod;
    const namespace = queued.info.namespace;
    const name = asString(asObject(pod.metadata).name);
    const nowIso = new Date(clock.wallMs()).toISOString();
    if (outcome.outcome === "bound") {
      lastFailure.delete(queued.info.key);
      const message = scheduledMessage(pod, outcome.nodeName);
      recorder.event(withTypeMeta(pod, "v1", "Pod"), "Normal", "Scheduled", message);
      return; // the binding set PodScheduled=True, as kube-apiserver's does
    }
    const message =
      outcome.outcome === "bindingFailed"
        ? `binding rejected: ${(outcome.error as Error)?.message ?? String(outcome.error)}`
        : outcome.message;
    if (outcome.outcome === "bindingFailed" && isConflict(outcome.error)) return;
    if (outcome.outcome === "unschedulable" && outcome.nomination !== null)
      await preempt(queued, outcome.nomination);
    if (lastFailure.get(queued.info.key) === message) return;
    lastFailure.set(queued.info.key, message);
    await api.patch("pods", name, "strategic", podScheduledConditionPatch(false, message, nowIso), {
      namespace,
      subresource: "status",
    });
    recorder.event(withTypeMeta(pod, "v1", "Pod"), "Warning", "FailedScheduling", message);
  };

  const ports: SchedulerPorts = {
    queue,
    cache,
    waitingPods,
    profiles,
    random: seededRandom(options.seed ?? 1),
    clock,
    synced: () =>
      podInformer.hasSynced() &&
      nodeInformer.hasSynced() &&
      pdbInformer.hasSynced() &&
      storageInformers.every((i) => i.hasSynced()),
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
    schedulerNames,
    state: () => actor.getSnapshot().value,
    queueSizes: () => queue.sizes(),
    // Bindings in flight are abandoned: their statecharts stop with the actor and their results
    // are ignored. One that lands still binds the pod (the API server is the truth; the next
    // leader's informer sees it bound), only without our Scheduled event.
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (notifyTimer !== null) clock.clearTimeout(notifyTimer);
      notifyTimer = null;
      actor.send({ type: "scheduler.stop" });
      events.stop();
      podInformer.stop();
      nodeInformer.stop();
      pdbInformer.stop();
      for (const i of storageInformers) i.stop();
      system.despawn(`scheduler:${schedulerName}`); // a later leadership term spawns it again
    },
  };
}
