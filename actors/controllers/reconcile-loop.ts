/**
 * One controller's reconcile statechart: takes keys from its work queue one at a time and runs
 * the controller's reconcile function on each.
 *
 *   idle ──key ready──▶ reconciling ──done──▶ idle
 *                          │
 *                          └──failed──▶ backoff ──(pause)──▶ idle
 *
 * - A failed key goes back to the queue rate limited (per-key exponential backoff + the global
 *   bucket). The controller itself also pauses in `backoff`, growing with consecutive failures
 *   (reset by a success), so that a controller whose API is down does not spin through its keys.
 * - `requeueAfterMs` re-adds the key after that delay; it is not a failure.
 * - Keys are taken only once `isReady()` (the informers have synced): a controller that acted
 *   on an empty cache would, say, create every pod again.
 * One reconcile at a time per loop; a controller with `maxConcurrentReconciles` > 1 runs that many
 * loops on one queue (controller-runner.ts), which never hands a key to two of them.
 */
import { assign, setup } from "xstate";
import { type ObjectKey, parseKey } from "../client/object-key.ts";
import type { ReconcileResult } from "./controller.ts";
import type { WorkQueue } from "./work-queue.ts";

export const CONTROLLER_BACKOFF_INITIAL_MS = 10;
export const CONTROLLER_BACKOFF_MAX_MS = 1_000;

export interface ReconcileLoopInput {
  queue: WorkQueue;
  reconcile(key: ObjectKey): Promise<ReconcileResult | undefined>;
  isReady?: () => boolean;
}

interface ReconcileLoopContext {
  queue: WorkQueue;
  reconcile(key: ObjectKey): Promise<ReconcileResult | undefined>;
  isReady: () => boolean;
  key: string | null;
  /** Consecutive failed reconciles, over all keys. */
  failures: number;
  reconciles: number;
  lastError: string | null;
}

export type ReconcileLoopEvent =
  | { type: "queue.ready" }
  | { type: "controller.stop" }
  | { type: "reconcile.done"; key: string; result: ReconcileResult | undefined }
  | { type: "reconcile.failed"; key: string; error: string };

export function controllerBackoffMs(failures: number): number {
  return Math.min(
    CONTROLLER_BACKOFF_INITIAL_MS * 2 ** Math.max(0, failures - 1),
    CONTROLLER_BACKOFF_MAX_MS,
  );
}

export const reconcileLoopMachine = setup({
  types: {
    context: {} as ReconcileLoopContext,
    input: {} as ReconcileLoopInput,
    events: {} as ReconcileLoopEvent,
  },
  delays: {
    controllerBackoff: ({ context }) => controllerBackoffMs(context.failures),
  },
  guards: {
    hasReadyKey: ({ context }) => context.isReady() && context.queue.hasReady(),
    isCurrentKey: ({ context, event }) => "key" in event && event.key === context.key,
  },
  actions: {
    // A promise the loop sends itself the outcome of, rather than an invoked actor: a busy
    // controller reconciles thousands of keys a second, and an actor per key (its snapshot,
    // abort signal and inspection events) cost more than most reconciles
    startReconcile: ({ context, self }) => {
      const key = context.key as string;
      Promise.resolve()
        .then(() => context.reconcile(parseKey(key)))
        .then(
          (result) => self.send({ type: "reconcile.done", key, result }),
          (error: unknown) =>
            self.send({
              type: "reconcile.failed",
              key,
              error: error instanceof Error ? error.message : String(error),
            }),
        );
    },
    takeKey: assign({ key: ({ context }) => context.queue.take() }),
    finishKey: assign(({ context }, result: ReconcileResult | undefined) => {
      const key = context.key as string;
      context.queue.forget(key);
      context.queue.done(key);
      if (result?.requeueAfterMs !== undefined) context.queue.addAfter(key, result.requeueAfterMs);
      return { key: null, failures: 0, reconciles: context.reconciles + 1, lastError: null };
    }),
    retryKeyLater: assign(({ context }, error: string) => {
      const key = context.key as string;
      context.queue.done(key);
      context.queue.addRateLimited(key);
      return {
        key: null,
        failures: context.failures + 1,
        reconciles: context.reconciles + 1,
        lastError: `${key}: ${error}`,
      };
    }),
  },
}).createMachine({
  id: "reconcile-loop",
  context: ({ input }) => ({
    queue: input.queue,
    reconcile: input.reconcile,
    isReady: input.isReady ?? (() => true),
    key: null,
    failures: 0,
    reconciles: 0,
    lastError: null,
  }),
  initial: "idle",
  on: { "controller.stop": { target: ".stopped" } },
  states: {
    idle: {
      always: { guard: "hasReadyKey", target: "reconciling", actions: "takeKey" },
      on: { "queue.ready": { guard: "hasReadyKey", target: "reconciling", actions: "takeKey" } },
    },
    reconciling: {
      entry: "startReconcile",
      on: {
        "reconcile.done": {
          guard: "isCurrentKey",
          target: "idle",
          actions: {
            type: "finishKey",
            params: ({ event }) => (event as { result: ReconcileResult | undefined }).result,
          },
        },
        "reconcile.failed": {
          guard: "isCurrentKey",
          target: "backoff",
          actions: {
            type: "retryKeyLater",
            params: ({ event }) => (event as { error: string }).error,
          },
        },
      },
    },
    backoff: {
      after: { controllerBackoff: { target: "idle" } },
    },
    stopped: { type: "final" },
  },
});
