/**
 * kube-scheduler's scheduling framework (`pkg/scheduler/framework/interface.go`): a plugin is a
 * named object implementing any of the extension points below, each a tiny interface; which
 * plugins run at each point, in what order and with what score weight, is the profile's
 * (profile.ts, built from a KubeSchedulerConfiguration), never the plugin's.
 *
 *   scheduling cycle (one pod at a time, pure, synchronous):
 *     PreFilter → Filter (every node) → [no node: PostFilter, e.g. preemption]
 *     → PreScore → Score → NormalizeScore → select → assume → Reserve → Permit
 *   binding cycle (asynchronous, many pods at once):
 *     wait on Permit → PreBind → Bind → PostBind        (any failure: Unreserve, forget)
 *
 * Shaped for speed, as the rest of this file: Filter and Score are bound to the pod once
 * (`prepareFilter`, `prepareScore` return a per-pod closure, or null when the plugin has nothing
 * to check or rank for this pod — kube's PreFilter/PreScore `Skip`), which is what keeps
 * 10,000 pods × 1,000 nodes fast. For every feasible node each score plugin gives 0–100 (after
 * its own normalization), weighted and summed; the highest total wins, ties broken by a seeded
 * random choice among the best (kube's `selectHost` reservoir sampling).
 */
import type { ObjectApi } from "../client/api-client.ts";
import { SeededRandom } from "../system/random.ts";
import type { NodeInfo, PodInfo } from "./node-info.ts";
import type { SchedulerCache } from "./scheduler-cache.ts";
import type { VolumeCache } from "./volume-cache.ts";
import type { WaitingPods } from "./waiting-pods.ts";

export const MAX_NODE_SCORE = 100;

/** No reasons: the node passes. */
export const FITS: readonly string[] = Object.freeze([]);

/**
 * Data plugins keep for one pod's attempt, from PreFilter to PostBind (kube's CycleState),
 * keyed by plugin name so that plugins do not collide.
 */
export class CycleState {
  private readonly data = new Map<string, unknown>();

  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }
}

/** What plugins may use beyond the pod: the snapshot, the waiting pods and the binding port. */
export interface FrameworkHandle {
  readonly cache: SchedulerCache;
  readonly waitingPods: WaitingPods;
  /** Claims, volumes and classes (VolumeBinding); absent where no storage is watched. */
  readonly volumes?: VolumeCache;
  /** Object writes for PreBind plugins (VolumeBinding's claim and volume updates). */
  readonly api?: ObjectApi | null;
  /** Posts `pods/binding` (the API's; DefaultBinder's only I/O). Rejects with the API's error. */
  bindPod(pod: PodInfo, nodeName: string): Promise<void>;
}

export interface Plugin {
  readonly name: string;
}

/** PreFilter's verdict on the whole pod: go on, or unschedulable everywhere (with why). */
export type PreFilterStatus = { code: "Success" } | { code: "Unschedulable"; reason: string };

export const PRE_FILTER_SUCCESS: PreFilterStatus = Object.freeze({ code: "Success" });

export interface PreFilterPlugin extends Plugin {
  /** Once per attempt, before any Filter: checks the pod as a whole, may stash state. */
  preFilter(pod: PodInfo, cache: SchedulerCache, state: CycleState): PreFilterStatus;
}

export type NodeFilter = (node: NodeInfo) => readonly string[];

export interface FilterPlugin extends Plugin {
  /** The pod's Filter (reasons a node does not fit; FITS), or null when it cannot reject any. */
  prepareFilter(pod: PodInfo, cache: SchedulerCache, state: CycleState): NodeFilter | null;
}

/** Why each node was rejected: reason → how many nodes. */
export type Diagnosis = Map<string, number>;

/**
 * What a PostFilter found for a pod no node fits: a node it will fit once `victims` are gone
 * (DefaultPreemption). The scheduler deletes the victims and sets `status.nominatedNodeName`.
 */
export interface PostFilterResult {
  nominatedNodeName: string;
  victims: readonly PodInfo[];
}

/** The pod's Filter plugins on a node as given (a what-if copy, e.g. with victims removed). */
export type FilterRunner = (node: NodeInfo) => readonly string[];

export interface PostFilterPlugin extends Plugin {
  postFilter(
    pod: PodInfo,
    cache: SchedulerCache,
    state: CycleState,
    diagnosis: Diagnosis,
    runFilters: FilterRunner,
  ): PostFilterResult | null;
}

export interface PreScorePlugin extends Plugin {
  /** Once per attempt with the feasible nodes, before any Score. */
  preScore(pod: PodInfo, feasible: readonly NodeInfo[], state: CycleState): void;
}

export interface NodeScorer {
  /** Score: a raw score for one feasible node. */
  score(node: NodeInfo): number;
  /** NormalizeScore: maps the raw scores (in feasible-node order) into 0..MAX_NODE_SCORE in place. */
  normalize?(scores: number[]): void;
}

export interface ScorePlugin extends Plugin {
  /** The pod's scorer, or null when the plugin ranks every node alike for this pod. */
  prepareScore(
    pod: PodInfo,
    cache: SchedulerCache,
    feasible: readonly NodeInfo[],
    state: CycleState,
  ): NodeScorer | null;
}

/** A score plugin with its weight in the profile (kube's default weights: TaintToleration 3, …). */
export interface WeightedScore {
  readonly plugin: ScorePlugin;
  readonly weight: number;
}

export interface ReservePlugin extends Plugin {
  /** The pod is assumed on `nodeName`: claim what the plugin tracks; a string is a failure. */
  reserve(pod: PodInfo, nodeName: string, state: CycleState): string | null;
  /** Undo `reserve` (also called for plugins whose reserve was never reached): must not throw. */
  unreserve(pod: PodInfo, nodeName: string, state: CycleState): void;
}

export type PermitDecision =
  | { decision: "allow" }
  | { decision: "deny"; reason: string }
  | { decision: "wait"; timeoutMs: number };

export const PERMIT_ALLOW: PermitDecision = Object.freeze({ decision: "allow" });

export interface PermitPlugin extends Plugin {
  permit(pod: PodInfo, nodeName: string, state: CycleState): PermitDecision;
}

export interface PreBindPlugin extends Plugin {
  preBind(pod: PodInfo, nodeName: string, state: CycleState): Promise<void>;
}

export interface BindPlugin extends Plugin {
  /** "skip" lets the next Bind plugin bind it. Rejects with the API's error. */
  bind(pod: PodInfo, nodeName: string, state: CycleState): Promise<"bound" | "skip">;
}

export interface PostBindPlugin extends Plugin {
  /** Informational, after a successful bind: must not throw. */
  postBind(pod: PodInfo, nodeName: string, state: CycleState): void;
}

/** The plugins of one profile, per extension point, in the order they run. */
export interface Profile {
  readonly schedulerName: string;
  readonly preFilters: readonly PreFilterPlugin[];
  readonly filters: readonly FilterPlugin[];
  readonly postFilters: readonly PostFilterPlugin[];
  readonly preScores: readonly PreScorePlugin[];
  readonly scores: readonly WeightedScore[];
  readonly reserves: readonly ReservePlugin[];
  readonly permits: readonly PermitPlugin[];
  readonly preBinds: readonly PreBindPlugin[];
  readonly binds: readonly BindPlugin[];
  readonly postBinds: readonly PostBindPlugin[];
}

export interface FilterResult {
  feasible: NodeInfo[];
  diagnosis: Diagnosis;
}

/** PreFilter, then every node through the Filter plugins. */
export function findFeasibleNodes(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  state: CycleState = new CycleState(),
): FilterResult {
  const diagnosis: Diagnosis = new Map();
  for (const plugin of profile.preFilters) {
    const status = plugin.preFilter(pod, cache, state);
    if (status.code === "Unschedulable") {
      // kube's UnschedulableAndUnresolvable at PreFilter: every node is rejected for it
      diagnosis.set(status.reason, cache.nodeList().length);
      return { feasible: [], diagnosis };
    }
  }
  const filters: NodeFilter[] = [];
  for (const plugin of profile.filters) {
    const f = plugin.prepareFilter(pod, cache, state);
    if (f !== null) filters.push(f);
  }
  const feasible: NodeInfo[] = [];
  for (const node of cache.nodeList()) {
    let rejected = false;
    for (const f of filters) {
      const reasons = f(node);
      if (reasons.length === 0) continue;
      // like kube-scheduler, the first plugin that rejects a node is the one reported
      for (const r of reasons) diagnosis.set(r, (diagnosis.get(r) ?? 0) + 1);
      rejected = true;
      break;
    }
    if (!rejected) feasible.push(node);
  }
  return { feasible, diagnosis };
}

/** The first PostFilter that finds a way (kube stops at the first success). */
export function runPostFilters(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  state: CycleState,
  diagnosis: Diagnosis,
): PostFilterResult | null {
  if (profile.postFilters.length === 0) return null;
  const filters: NodeFilter[] = [];
  for (const plugin of profile.filters) {
    const f = plugin.prepareFilter(pod, cache, state);
    if (f !== null) filters.push(f);
  }
  const runFilters: FilterRunner = (node) => {
    for (const f of filters) {
      const reasons = f(node);
      if (reasons.length > 0) return reasons;
    }
    return FITS;
  };
  for (const plugin of profile.postFilters) {
    const result = plugin.postFilter(pod, cache, state, diagnosis, runFilters);
    if (result !== null) return result;
  }
  return null;
}

/** PreScore, Score and NormalizeScore: the weighted total per feasible node (same order). */
export function scoreNodes(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  feasible: readonly NodeInfo[],
  state: CycleState = new CycleState(),
): number[] {
  const totals = new Array<number>(feasible.length).fill(0);
  if (feasible.length <= 1) return totals; // one node needs no ranking (kube skips scoring too)
  for (const plugin of profile.preScores) plugin.preScore(pod, feasible, state);
  for (const { plugin, weight } of profile.scores) {
    const scorer = plugin.prepareScore(pod, cache, feasible, state);
    if (scorer === null) continue;
    const scores = feasible.map((n) => scorer.score(n));
    scorer.normalize?.(scores);
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i] as number;
      if (!(s >= 0 && s <= MAX_NODE_SCORE))
        throw new Error(`score plugin ${plugin.name} gave ${s}, outside 0..${MAX_NODE_SCORE}`);
      totals[i] = (totals[i] as number) + s * weight;
    }
  }
  return totals;
}

/** The index of the best score; among equals, each is chosen with equal chance from `random`. */
export function selectHost(totals: readonly number[], random: () => number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < totals.length; i++) {
    const s = totals[i] as number;
    if (s > bestScore) {
      best = i;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties++;
      if (random() * ties < 1) best = i; // reservoir sampling: keeps each tie with 1/ties
    }
  }
  return best;
}

/**
 * Reserve in profile order; on the first failure, Unreserve every Reserve plugin in reverse
 * (kube calls Unreserve on all of them, reached or not). The failure's reason, or null.
 */
export function runReserve(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): string | null {
  for (const plugin of profile.reserves) {
    const failure = plugin.reserve(pod, nodeName, state);
    if (failure !== null) {
      runUnreserve(profile, pod, nodeName, state);
      return `${plugin.name}: ${failure}`;
    }
  }
  return null;
}

export function runUnreserve(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): void {
  for (let i = profile.reserves.length - 1; i >= 0; i--)
    profile.reserves[i]?.unreserve(pod, nodeName, state);
}

/**
 * Permit: a deny wins at once; otherwise the pod waits for every plugin that said wait, as long
 * as the shortest of their timeouts (kube's RunPermitPlugins).
 */
export type PermitOutcome =
  | { decision: "allow" }
  | { decision: "deny"; reason: string }
  | { decision: "wait"; timeoutMs: number; plugins: string[] };

export function runPermit(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): PermitOutcome {
  const waitingOn: string[] = [];
  let timeoutMs = Number.POSITIVE_INFINITY;
  for (const plugin of profile.permits) {
    const d = plugin.permit(pod, nodeName, state);
    if (d.decision === "deny") return { decision: "deny", reason: `${plugin.name}: ${d.reason}` };
    if (d.decision === "wait") {
      waitingOn.push(plugin.name);
      timeoutMs = Math.min(timeoutMs, d.timeoutMs);
    }
  }
  return waitingOn.length === 0
    ? { decision: "allow" }
    : { decision: "wait", timeoutMs, plugins: waitingOn };
}

/** PreBind plugins, one after another; the first rejection fails the binding. */
export async function runPreBind(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): Promise<void> {
  for (const plugin of profile.preBinds) await plugin.preBind(pod, nodeName, state);
}

/** Bind plugins in order until one binds (kube: the first that does not Skip). */
export async function runBind(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): Promise<void> {
  for (const plugin of profile.binds)
    if ((await plugin.bind(pod, nodeName, state)) === "bound") return;
  throw new Error(`no bind plugin bound pod ${pod.key}`);
}

export function runPostBind(
  profile: Profile,
  pod: PodInfo,
  nodeName: string,
  state: CycleState,
): void {
  for (const plugin of profile.postBinds) plugin.postBind(pod, nodeName, state);
}

/** kube-scheduler's FitError message: `0/3 nodes are available: 1 Insufficient cpu, 2 ….` */
export function fitErrorMessage(nodeCount: number, diagnosis: Diagnosis): string {
  const reasons = [...diagnosis].map(([reason, count]) => `${count} ${reason}`).sort();
  const head = `0/${nodeCount} nodes are available`;
  return reasons.length === 0 ? `${head}.` : `${head}: ${reasons.join(", ")}.`;
}

export type ScheduleResult =
  | { ok: true; nodeName: string; feasibleCount: number }
  | { ok: false; message: string; diagnosis: Diagnosis };

/** One scheduling decision: filter, score, select. Does not assume, reserve or bind. */
export function schedulePod(
  profile: Profile,
  pod: PodInfo,
  cache: SchedulerCache,
  random: () => number,
  state: CycleState = new CycleState(),
): ScheduleResult {
  const { feasible, diagnosis } = findFeasibleNodes(profile, pod, cache, state);
  if (feasible.length === 0)
    return {
      ok: false,
      message: fitErrorMessage(cache.nodeList().length, diagnosis),
      diagnosis,
    };
  const totals = scoreNodes(profile, pod, cache, feasible, state);
  const chosen = feasible[selectHost(totals, random)] as NodeInfo;
  return { ok: true, nodeName: chosen.name, feasibleCount: feasible.length };
}

/** Reproducible tie-breaking: the tree's one seeded PRNG as a `() => number`. */
export function seededRandom(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

/**
 * kube-scheduler's `helper.DefaultNormalizeScore`: scale so the highest becomes MAX_NODE_SCORE
 * (all zero stays zero, or all MAX when reversed); `reverse` flips it (fewer is better).
 */
export function defaultNormalizeScore(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) {
      scores[i] = reverse ? MAX_NODE_SCORE : 0;
      continue;
    }
    const scaled = Math.floor(((scores[i] as number) * MAX_NODE_SCORE) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - scaled : scaled;
  }
}
