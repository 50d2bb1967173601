/**
 * One pod's scheduling attempt, as a statechart (kube-scheduler's scheduling + binding cycle):
 *
 *   queued ──▶ filtering ──no feasible node──▶ unschedulable
 *                  │
 *                  ▼
 *               scoring ──▶ binding ──bound──▶ bound
 *                              └──failed──▶ bindingFailed
 *
 * Filtering and scoring are the pure framework, run synchronously in entry actions; the pod is
 * assumed onto the chosen node before binding (so the next pod already counts it) and forgotten
 * if binding fails. Invoked by the scheduler actor, so it shows in the inspector as its child.
 */
import { assign, fromPromise, setup } from "xstate";
import {
  type Diagnosis,
  findFeasibleNodes,
  fitErrorMessage,
  type Profile,
  scoreNodes,
  selectHost,
} from "./framework.ts";
import type { NodeInfo } from "./node-info.ts";
import type { SchedulerCache } from "./scheduler-cache.ts";
import type { QueuedPod } from "./scheduling-queue.ts";

/** Posts the binding; rejects with the API's error. */
export type BindPod = (pod: QueuedPod, nodeName: string) => Promise<void>;

export interface PodSchedulingInput {
  pod: QueuedPod;
  cache: SchedulerCache;
  profile: Profile;
  random: () => number;
  bind: BindPod;
}

export type PodSchedulingOutcome =
  | { outcome: "bound"; nodeName: string }
  | { outcome: "unschedulable"; message: string; diagnosis: Diagnosis }
  | { outcome: "bindingFailed"; nodeName: string; error: unknown };

interface PodSchedulingContext extends PodSchedulingInput {
  feasible: NodeInfo[];
  diagnosis: Diagnosis;
  nodeName: string | null;
  error: unknown;
}

export const podSchedulingMachine = setup({
  types: {
    context: {} as PodSchedulingContext,
    input: {} as PodSchedulingInput,
    output: {} as PodSchedulingOutcome,
  },
  actors: {
    bindPod: fromPromise<void, { bind: BindPod; pod: QueuedPod; nodeName: string }>(({ input }) =>
      input.bind(input.pod, input.nodeName),
    ),
  },
  guards: {
    hasNoFeasibleNode: ({ context }) => context.feasible.length === 0,
  },
  actions: {
    runFilters: assign(({ context }) =>
      findFeasibleNodes(context.profile, context.pod.info, context.cache),
    ),
    scoreAndSelectNode: assign(({ context }) => {
      const totals = scoreNodes(context.profile, context.pod.info, context.cache, context.feasible);
      const chosen = context.feasible[selectHost(totals, context.random)] as NodeInfo;
      return { nodeName: chosen.name, feasible: [] };
    }),
    assumePod: ({ context }) => context.cache.assume(context.pod.info, context.nodeName as string),
    forgetPod: ({ context }) => context.cache.forget(context.pod.info.key),
    recordBindingError: assign({
      error: ({ event }) => (event as { error?: unknown }).error ?? "binding failed",
    }),
  },
}).createMachine({
  id: "pod-scheduling",
  context: ({ input }) => ({
    ...input,
    feasible: [],
    diagnosis: new Map(),
    nodeName: null,
    error: null,
  }),
  initial: "queued",
  states: {
    queued: { always: { target: "filtering" } },
    filtering: {
      entry: "runFilters",
      always: [{ guard: "hasNoFeasibleNode", target: "unschedulable" }, { target: "scoring" }],
    },
    scoring: {
      entry: "scoreAndSelectNode",
      always: { target: "binding", actions: "assumePod" },
    },
    binding: {
      invoke: {
        src: "bindPod",
        input: ({ context }) => ({
          bind: context.bind,
          pod: context.pod,
          nodeName: context.nodeName as string,
        }),
        onDone: { target: "bound" },
        onError: {
          target: "bindingFailed",
          actions: ["forgetPod", "recordBindingError"],
        },
      },
    },
    bound: { type: "final" },
    unschedulable: { type: "final" },
    bindingFailed: { type: "final" },
  },
  output: ({ context }): PodSchedulingOutcome => {
    if (context.error !== null)
      return { outcome: "bindingFailed", nodeName: context.nodeName ?? "", error: context.error };
    if (context.nodeName !== null) return { outcome: "bound", nodeName: context.nodeName };
    return {
      outcome: "unschedulable",
      message: fitErrorMessage(context.cache.nodeList().length, context.diagnosis),
      diagnosis: context.diagnosis,
    };
  },
});
