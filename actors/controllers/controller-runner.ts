/**
 * Runs a `ControllerDefinition`: wires informer events to its work queue (primary → own key,
 * owned → controller owner's key, watches → mapped keys) and starts its reconcile statechart —
 * at once (`runController`), or each time its manager starts leading (`wireController`).
 */

import { type AnyActorRef, createActor } from "xstate";
import type { JsonObject } from "../api/json.ts";
import { keyOf, keyString, type ObjectKey } from "../client/object-key.ts";
import type { SharedInformers } from "../client/shared-informers.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import type { ControllerDefinition, WatchEventKind } from "./controller.ts";
import { controllerOf, namespaceOf } from "./owner-references.ts";
import { reconcileLoopMachine } from "./reconcile-loop.ts";
import { WorkQueue, type WorkQueueLimits } from "./work-queue.ts";

/** Workers per controller at most: each holds a reconcile (and its API calls) in flight. */
export const MAX_CONCURRENT_RECONCILES = 16;

export interface RunningController {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly actor: AnyActorRef;
  /** The statechart's state: "idle", "reconciling", "backoff", "stopped". */
  state(): unknown;
  stop(): void;
}

/**
 * A controller wired to the informers, not yet reconciling: a controller manager's standby keeps
 * its informers (and so its caches) warm, as controller-runtime's manager runs its caches
 * whether or not it leads, so that a new leader reconciles at once instead of listing every
 * resource first — on a loaded machine that relist took longer than the Lease's renew deadline,
 * and leaders stepped down before reconciling anything.
 */
export interface WiredController {
  readonly name: string;
  /** Starts reconciling: every cached primary object is queued, then the informers' events. */
  start(
    clock: Clock,
    limits?: Partial<WorkQueueLimits>,
    owner?: { system: ActorSystem; parent: string },
  ): RunningController;
}

/** Registers the controller's handlers on `informers` (call before `informers.start()`). */
export function wireController(
  definition: ControllerDefinition,
  informers: SharedInformers,
): WiredController {
  // while no loop runs, events are dropped: a start queues every primary object anyway
  let enqueueNow: ((keys: ObjectKey[]) => void) | null = null;
  const on = (
    resource: string,
    map: (o: JsonObject, e: WatchEventKind, previous?: JsonObject) => ObjectKey[],
  ) =>
    informers.addHandlers(resource, {
      add: (o) => enqueueNow?.(map(o, "add")),
      update: (old, o) => enqueueNow?.(map(o, "update", old)),
      delete: (o) => enqueueNow?.(map(o, "delete")),
    });

  const filter = definition.primaryFilter;
  const primaryKeys = (o: JsonObject, e: WatchEventKind) =>
    filter && !filter(o, e) ? [] : [keyOf(o)];
  on(definition.primary, primaryKeys);
  for (const owned of definition.owns ?? []) {
    on(owned, (o) => {
      const ref = controllerOf(o);
      if (!ref || (definition.primaryKind && ref.kind !== definition.primaryKind)) return [];
      return [{ namespace: namespaceOf(o), name: ref.name }];
    });
  }
  for (const w of definition.watches ?? [])
    on(w.resource, (o, e, previous) => w.map(o, e, previous));

  return {
    name: definition.name,
    start(clock, limits = {}, owner) {
      const workers: AnyActorRef[] = [];
      const queue = new WorkQueue(
        clock,
        () => {
          for (const w of workers) w.send({ type: "queue.ready" });
        },
        limits,
      );
      const enqueue = (keys: ObjectKey[]) => {
        for (const k of keys) queue.add(keyString(k));
      };
      enqueueNow = enqueue;
      for (const o of informers.list(definition.primary)) enqueue(primaryKeys(o, "add"));
      const input = {
        queue,
        reconcile: (key: ObjectKey) => definition.reconcile(key),
        isReady: () => informers.hasSynced(),
      };
      // the first worker carries the controller's name, the others `<name>-worker-N`
      const names = Array.from({ length: workerCount(definition) }, (_, i) =>
        i === 0 ? definition.name : `${definition.name}-worker-${i + 1}`,
      );
      // in a controller manager, the loop is its child in the actor system
      // (`nX/controller-manager/replicaset`), so the inspector shows it; without an owner (unit
      // tests that run one controller on a fake API) there is no system to adopt it
      for (const name of names)
        workers.push(
          owner
            ? owner.system.spawnChild(owner.parent, name, reconcileLoopMachine, { input })
            : createActor(reconcileLoopMachine, { input, clock }).start(),
        );
      const started = workers[0] as AnyActorRef;
      informers.onSynced(() => {
        for (const w of workers) w.send({ type: "queue.ready" });
      });
      return {
        name: definition.name,
        queue,
        actor: started,
        state: () => workersState(workers),
        stop: () => {
          if (enqueueNow === enqueue) enqueueNow = null;
          queue.shutdown();
          for (const w of workers) w.send({ type: "controller.stop" });
          // the loops left the registry when they stopped; make sure, so that a manager elected
          // again can start them under the same names
          for (const name of names) owner?.system.despawn(`${owner.parent}/${name}`);
        },
      };
    },
  };
}

function workerCount(definition: ControllerDefinition): number {
  const n = definition.maxConcurrentReconciles ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENT_RECONCILES)
    throw new Error(
      `${definition.name}: maxConcurrentReconciles must be 1..${MAX_CONCURRENT_RECONCILES}, not ${n}`,
    );
  return n;
}

/** One worker's state; of several, the busiest (a controller is reconciling if any is). */
function workersState(workers: readonly AnyActorRef[]): unknown {
  const states = workers.map((w) => w.getSnapshot().value as unknown);
  for (const busy of ["reconciling", "backoff"]) if (states.includes(busy)) return busy;
  return states[0];
}

/**
 * Registers the controller's handlers on `informers` (call before `informers.start()`) and
 * starts its reconcile loop, which waits for the informers to sync.
 */
export function runController(
  definition: ControllerDefinition,
  informers: SharedInformers,
  clock: Clock,
  limits: Partial<WorkQueueLimits> = {},
  owner?: { system: ActorSystem; parent: string },
): RunningController {
  return wireController(definition, informers).start(clock, limits, owner);
}
