/**
 * One pod's scheduling attempt, as a statechart (kube-scheduler's scheduling + binding cycle):
 *
 *   queued ──▶ filtering ──no feasible node──▶ unschedulable
 *                  │
 *                  ▼
 *               scoring ──▶ binding ──bound──▶ bound
 *                              └──failed──▶ bindingFailed
 *
 * The scheduling cycle (filtering, scoring: the pure framework, run synchronously in entry
 * actions) ends by assuming the pod onto the chosen node, so that the next pod's filters
 * already count it; the binding cycle (the API call) then runs while the scheduler goes on with
 * other pods, and a failed binding forgets the assumed pod. Spawned by the scheduler actor (so
 * it shows in the inspector as its child), to which it reports: `pod.assumed` when its
 * scheduling cycle has ended with a node, `pod.finished` with the outcome. It must run with a
 * parent to report to.
 */
import { assign, fromPromise, sendParent, setup } from "xstate";
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

/** What a pod's statechart tells its parent; `id` is the statechart's actor id. */
export type PodSchedulingReport =
  | { type: "pod.assumed"; id: string; nodeName: string }
  | { type: "pod.finished"; id: string; outcome: PodSchedulingOutcome };

interface PodSchedulingContext extends PodSchedulingInput {
  feasible: NodeInfo[];
  diagnosis: Diagnosis;
  nodeName: string | null;
  error: unknown;
}

function outcomeOf(context: PodSchedulingContext): PodSchedulingOutcome {
  if (context.error !== null)
    return { outcome: "bindingFailed", nodeName: context.nodeName ?? "", error: context.error };
  if (context.nodeName !== null) return { outcome: "bound", nodeName: context.nodeName };
  return {
    outcome: "unschedulable",
    message: fitErrorMessage(context.cache.nodeList().length, context.diagnosis),
    diagnosis: context.diagnosis,
  };
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
    reportAssumed: sendParent(
      ({ context, self }): PodSchedulingReport => ({
        type: "pod.assumed",
        id: self.id,
        nodeName: context.nodeName as string,
      }),
    ),
    reportOutcome: sendParent(
      ({ context, self }): PodSchedulingReport => ({
        type: "pod.finished",
        id: self.id,
        outcome: outcomeOf(context),
      }),
    ),
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
      entry: "reportAssumed",
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
    bound: { type: "final", entry: "reportOutcome" },
    unschedulable: { type: "final", entry: "reportOutcome" },
    bindingFailed: { type: "final", entry: "reportOutcome" },
  },
  output: ({ context }) => outcomeOf(context),
});
