/**
 * One pod's scheduling attempt, as a statechart (kube-scheduler's scheduling + binding cycle),
 * through every extension point of its profile (framework.ts):
 *
 *   queued ──▶ filtering ──no feasible node──▶ postFiltering ──▶ unschedulable
 *                  │                           (preemption may nominate a node)
 *                  ▼
 *               scoring ──▶ reserving ──failed──▶ rejected
 *                               │
 *                               ▼
 *                           permitting ──denied──▶ rejected
 *                               │ allowed, or wait
 *   ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ┼ ─ ─ (pod.assumed: the scheduler takes the next pod) ─ ─ ─ ─
 *                               ▼
 *                        waitingOnPermit ──rejected, or timeout──▶ rejected
 *                               │ allowed
 *                               ▼
 *                          preBinding ──▶ binding ──bound──▶ bound (PostBind)
 *                               └──failed──────┴──▶ bindingFailed
 *
 * The scheduling cycle (filtering to permitting: the pure framework, run synchronously in entry
 * actions) assumes the pod onto the chosen node before Reserve, so that the next pod's filters
 * already count it; the binding cycle (waiting on Permit, PreBind, Bind: I/O) then runs while
 * the scheduler goes on with other pods. Leaving the binding cycle any way but bound runs
 * Unreserve and forgets the assumed pod. Spawned by the scheduler actor (so it shows in the
 * inspector as its child), to which it reports: `pod.assumed` when its scheduling cycle has
 * ended with a node, `pod.finished` with the outcome. It must run with a parent to report to.
 */
import { assign, fromPromise, sendParent, setup } from "xstate";
import {
  CycleState,
  type Diagnosis,
  findFeasibleNodes,
  fitErrorMessage,
  type PostFilterResult,
  type Profile,
  runBind,
  runPermit,
  runPostBind,
  runPostFilters,
  runPreBind,
  runReserve,
  runUnreserve,
  scoreNodes,
  selectHost,
} from "./framework.ts";
import type { NodeInfo } from "./node-info.ts";
import type { SchedulerCache } from "./scheduler-cache.ts";
import type { QueuedPod } from "./scheduling-queue.ts";
import { type PermitVerdict, WaitingPod, type WaitingPods } from "./waiting-pods.ts";

export interface PodSchedulingInput {
  pod: QueuedPod;
  cache: SchedulerCache;
  waitingPods: WaitingPods;
  profile: Profile;
  random: () => number;
}

export type PodSchedulingOutcome =
  | { outcome: "bound"; nodeName: string }
  | {
      outcome: "unschedulable";
      message: string;
      diagnosis: Diagnosis;
      /** A PostFilter's (preemption's) way to make room, carried out by the scheduler. */
      nomination: PostFilterResult | null;
    }
  /** Reserve failed, or Permit denied or timed out: retried after a backoff. */
  | { outcome: "rejected"; nodeName: string; message: string }
  | { outcome: "bindingFailed"; nodeName: string; error: unknown };

/** What a pod's statechart tells its parent; `id` is the statechart's actor id. */
export type PodSchedulingReport =
  | { type: "pod.assumed"; id: string; nodeName: string }
  | { type: "pod.finished"; id: string; outcome: PodSchedulingOutcome };

interface PodSchedulingContext extends PodSchedulingInput {
  state: CycleState;
  feasible: NodeInfo[];
  diagnosis: Diagnosis;
  nomination: PostFilterResult | null;
  nodeName: string | null;
  /** Why Reserve or Permit turned the pod away. */
  rejection: string | null;
  /** Set while Permit holds the pod. */
  waiting: WaitingPod | null;
  permitTimeoutMs: number;
  error: unknown;
}

function outcomeOf(context: PodSchedulingContext): PodSchedulingOutcome {
  if (context.error !== null)
    return { outcome: "bindingFailed", nodeName: context.nodeName ?? "", error: context.error };
  if (context.rejection !== null)
    return { outcome: "rejected", nodeName: context.nodeName ?? "", message: context.rejection };
  if (context.nodeName !== null) return { outcome: "bound", nodeName: context.nodeName };
  return {
    outcome: "unschedulable",
    message: fitErrorMessage(context.cache.nodeList().length, context.diagnosis),
    diagnosis: context.diagnosis,
    nomination: context.nomination,
  };
}

const preBindActor = fromPromise<void, PodSchedulingContext>(({ input }) =>
  runPreBind(input.profile, input.pod.info, input.nodeName as string, input.state),
);
const bindActor = fromPromise<void, PodSchedulingContext>(({ input }) =>
  runBind(input.profile, input.pod.info, input.nodeName as string, input.state),
);

export const podSchedulingMachine = setup({
  types: {
    context: {} as PodSchedulingContext,
    input: {} as PodSchedulingInput,
    output: {} as PodSchedulingOutcome,
  },
  actors: {
    permitVerdict: fromPromise<PermitVerdict, WaitingPod>(({ input }) => input.verdict),
    preBind: preBindActor,
    bind: bindActor,
  },
  delays: {
    permitTimeout: ({ context }) => context.permitTimeoutMs,
  },
  guards: {
    hasNoFeasibleNode: ({ context }) => context.feasible.length === 0,
    isRejected: ({ context }) => context.rejection !== null,
    mustWaitOnPermit: ({ context }) => context.waiting !== null,
    isPermitAllowed: ({ event }) => (event as { output?: PermitVerdict }).output?.allowed === true,
  },
  actions: {
    runFilters: assign(({ context }) =>
      findFeasibleNodes(context.profile, context.pod.info, context.cache, context.state),
    ),
    runPostFilters: assign({
      nomination: ({ context }) =>
        runPostFilters(
          context.profile,
          context.pod.info,
          context.cache,
          context.state,
          context.diagnosis,
        ),
    }),
    scoreAndSelectNode: assign(({ context }) => {
      const totals = scoreNodes(
        context.profile,
        context.pod.info,
        context.cache,
        context.feasible,
        context.state,
      );
      const chosen = context.feasible[selectHost(totals, context.random)] as NodeInfo;
      return { nodeName: chosen.name, feasible: [] };
    }),
    assumeAndReserve: assign(({ context }) => {
      const nodeName = context.nodeName as string;
      context.cache.assume(context.pod.info, nodeName);
      const failure = runReserve(context.profile, context.pod.info, nodeName, context.state);
      if (failure === null) return {};
      context.cache.forget(context.pod.info.key);
      return { rejection: failure };
    }),
    runPermit: assign(({ context }) => {
      const nodeName = context.nodeName as string;
      const info = context.pod.info;
      const permit = runPermit(context.profile, info, nodeName, context.state);
      if (permit.decision === "allow") return {};
      if (permit.decision === "deny") {
        runUnreserve(context.profile, info, nodeName, context.state);
        context.cache.forget(info.key);
        return { rejection: permit.reason };
      }
      const waiting = new WaitingPod(info, nodeName, permit.plugins);
      context.waitingPods.add(waiting);
      return { waiting, permitTimeoutMs: permit.timeoutMs };
    }),
    releaseWaiting: ({ context }) => context.waitingPods.remove(context.pod.info.key),
    recordPermitRejection: assign({
      rejection: ({ event }) => {
        const verdict = (event as { output?: PermitVerdict }).output;
        return verdict?.allowed === false ? verdict.reason : "rejected at Permit";
      },
    }),
    recordPermitTimeout: assign({
      rejection: ({ context }) =>
        `rejected due to timeout after waiting ${context.permitTimeoutMs} ms at plugin(s) ${context.waiting?.pendingPlugins().join(", ")}`,
    }),
    unreserveAndForget: ({ context }) => {
      runUnreserve(context.profile, context.pod.info, context.nodeName as string, context.state);
      context.cache.forget(context.pod.info.key);
    },
    runPostBind: ({ context }) =>
      runPostBind(context.profile, context.pod.info, context.nodeName as string, context.state),
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
    state: new CycleState(),
    feasible: [],
    diagnosis: new Map(),
    nomination: null,
    nodeName: null,
    rejection: null,
    waiting: null,
    permitTimeoutMs: 0,
    error: null,
  }),
  initial: "queued",
  states: {
    queued: { always: { target: "filtering" } },
    filtering: {
      entry: "runFilters",
      always: [{ guard: "hasNoFeasibleNode", target: "postFiltering" }, { target: "scoring" }],
    },
    postFiltering: {
      entry: "runPostFilters",
      always: { target: "unschedulable" },
    },
    scoring: {
      entry: "scoreAndSelectNode",
      always: { target: "reserving" },
    },
    reserving: {
      entry: "assumeAndReserve",
      always: [{ guard: "isRejected", target: "rejected" }, { target: "permitting" }],
    },
    permitting: {
      entry: "runPermit",
      always: [
        { guard: "isRejected", target: "rejected" },
        { guard: "mustWaitOnPermit", target: "waitingOnPermit", actions: "reportAssumed" },
        { target: "preBinding", actions: "reportAssumed" },
      ],
    },
    waitingOnPermit: {
      exit: "releaseWaiting",
      invoke: {
        src: "permitVerdict",
        input: ({ context }) => context.waiting as WaitingPod,
        onDone: [
          { guard: "isPermitAllowed", target: "preBinding" },
          {
            target: "rejected",
            actions: ["recordPermitRejection", "unreserveAndForget"],
          },
        ],
      },
      after: {
        permitTimeout: {
          target: "rejected",
          actions: ["recordPermitTimeout", "unreserveAndForget"],
        },
      },
    },
    preBinding: {
      invoke: {
        src: "preBind",
        input: ({ context }) => context,
        onDone: { target: "binding" },
        onError: {
          target: "bindingFailed",
          actions: ["unreserveAndForget", "recordBindingError"],
        },
      },
    },
    binding: {
      invoke: {
        src: "bind",
        input: ({ context }) => context,
        onDone: { target: "bound" },
        onError: {
          target: "bindingFailed",
          actions: ["unreserveAndForget", "recordBindingError"],
        },
      },
    },
    bound: { type: "final", entry: ["runPostBind", "reportOutcome"] },
    unschedulable: { type: "final", entry: "reportOutcome" },
    rejected: { type: "final", entry: "reportOutcome" },
    bindingFailed: { type: "final", entry: "reportOutcome" },
  },
  output: ({ context }) => outcomeOf(context),
});
