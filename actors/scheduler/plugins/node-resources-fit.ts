/**
 * NodeResourcesFit (kube-scheduler `plugins/noderesources/fit.go`):
 * - Filter: the pod's requests plus those of the pods already on the node must not exceed the
 *   node's `status.allocatable`, per resource; each shortfall is a reason (`Insufficient cpu`,
 *   `Insufficient memory`), and a full node is `Too many pods`. Pods nominated to the node by
 *   preemption with at least this pod's priority count as there (kube's nominator). A resource the pod does not
 *   request is not checked (a pod asking nothing fits a full node, as in Kubernetes).
 * - Score, by `scoringStrategy` (NodeResourcesFitArgs): for CPU and memory, weighted by the
 *   strategy's resource weights (1 and 1 by default), with the pod added and zero requests
 *   counted as the scoring defaults (100m, 200Mi): LeastAllocated (the default) scores the share
 *   left free, `(allocatable - requested) * 100 / allocatable`; MostAllocated the share in use
 *   (bin packing); RequestedToCapacityRatio maps the share in use through a piecewise linear
 *   `shape` of (utilization, score 0..10) points.
 */
import {
  type FieldError,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
} from "../../api/field-error.ts";
import type { JsonObject, JsonValue } from "../../api/json.ts";
import { FITS, type FilterPlugin, MAX_NODE_SCORE, type ScorePlugin } from "../framework.ts";
import type { NodeInfo } from "../node-info.ts";
import { intField, listField, objectField, unknownFieldErrors } from "../plugin-args.ts";
import { nonZeroRequests, type Resources } from "../pod-requests.ts";

export const ERR_INSUFFICIENT_CPU = "Insufficient cpu";
export const ERR_INSUFFICIENT_MEMORY = "Insufficient memory";
export const ERR_TOO_MANY_PODS = "Too many pods";

const NOTHING_HELD: Readonly<Resources & { pods: number }> = Object.freeze({
  milliCpu: 0,
  memoryBytes: 0,
  pods: 0,
});

/**
 * The reasons `requests` does not fit `node` (empty when it fits), with `held` (the room
 * nominated pods of at least this pod's priority are waiting for) counted as taken.
 */
export function insufficientResources(
  requests: Resources,
  node: NodeInfo,
  held: Readonly<Resources & { pods: number }> = NOTHING_HELD,
): string[] {
  const reasons: string[] = [];
  if (node.podCount + held.pods + 1 > node.allocatable.pods) reasons.push(ERR_TOO_MANY_PODS);
  if (
    requests.milliCpu > 0 &&
    requests.milliCpu > node.allocatable.milliCpu - node.requested.milliCpu - held.milliCpu
  )
    reasons.push(ERR_INSUFFICIENT_CPU);
  if (
    requests.memoryBytes > 0 &&
    requests.memoryBytes >
      node.allocatable.memoryBytes - node.requested.memoryBytes - held.memoryBytes
  )
    reasons.push(ERR_INSUFFICIENT_MEMORY);
  return reasons;
}

export const nodeResourcesFitFilter: FilterPlugin = {
  name: "NodeResourcesFit",
  prepareFilter(pod, cache) {
    // the common case, no pod nominated anywhere, stays one comparison per resource
    const nominated = cache.hasNominatedPods() ? cache : null;
    return (node) => {
      const held = nominated?.nominatedRequests(node.name, pod) ?? NOTHING_HELD;
      const reasons = insufficientResources(pod.requests, node, held);
      return reasons.length === 0 ? FITS : reasons;
    };
  },
};

/** kube's `leastRequestedScore`: the share left free, 0..100; 0 when over capacity. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** The fractions of CPU and memory in use once `pod` (non-zero requests) is added. */
export function fractionsWithPod(node: NodeInfo, podNonZero: Resources): [number, number] {
  const cpu = node.allocatable.milliCpu;
  const mem = node.allocatable.memoryBytes;
  const cpuFraction = cpu === 0 ? 1 : (node.nonZeroRequested.milliCpu + podNonZero.milliCpu) / cpu;
  const memFraction =
    mem === 0 ? 1 : (node.nonZeroRequested.memoryBytes + podNonZero.memoryBytes) / mem;
  return [cpuFraction, memFraction];
}

/** kube's `mostRequestedScore`: the share in use, 0..100; 0 when over capacity. */
export function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor((requested * MAX_NODE_SCORE) / capacity);
}

/** A point of RequestedToCapacityRatio's shape: utilization 0..100 → score 0..10 (kube's units). */
export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

/** kube's `MaxCustomPriorityScore`: shape scores are 0..10, scaled by 10 to 0..100. */
export const MAX_SHAPE_SCORE = 10;

/**
 * kube's `buildBrokenLinearFunction`: the shape (utilization ascending) as a piecewise linear
 * function of `requested * 100 / capacity`, flat before the first point and after the last.
 */
export function requestedToCapacityRatioScore(
  shape: readonly UtilizationShapePoint[],
  requested: number,
  capacity: number,
): number {
  if (capacity === 0 || requested > capacity) return 0;
  const p = Math.floor((requested * MAX_NODE_SCORE) / capacity);
  const scale = MAX_NODE_SCORE / MAX_SHAPE_SCORE;
  for (let i = 0; i < shape.length; i++) {
    const point = shape[i] as UtilizationShapePoint;
    if (p <= point.utilization) {
      if (i === 0) return point.score * scale;
      const prev = shape[i - 1] as UtilizationShapePoint;
      const slope = (point.score - prev.score) / (point.utilization - prev.utilization);
      return Math.floor((prev.score + slope * (p - prev.utilization)) * scale);
    }
  }
  return (shape.at(-1)?.score ?? 0) * scale;
}

export type ScoringStrategy =
  | { type: "LeastAllocated"; cpuWeight: number; memoryWeight: number }
  | { type: "MostAllocated"; cpuWeight: number; memoryWeight: number }
  | {
      type: "RequestedToCapacityRatio";
      cpuWeight: number;
      memoryWeight: number;
      shape: readonly UtilizationShapePoint[];
    };

export const DEFAULT_SCORING_STRATEGY: ScoringStrategy = Object.freeze({
  type: "LeastAllocated",
  cpuWeight: 1,
  memoryWeight: 1,
});

function resourceScorer(
  strategy: ScoringStrategy,
): (requested: number, capacity: number) => number {
  switch (strategy.type) {
    case "LeastAllocated":
      return leastRequestedScore;
    case "MostAllocated":
      return mostRequestedScore;
    case "RequestedToCapacityRatio":
      return (requested, capacity) =>
        requestedToCapacityRatioScore(strategy.shape, requested, capacity);
  }
}

/**
 * NodeResourcesFit's Score under a scoring strategy (NodeResourcesFitArgs.scoringStrategy):
 * the per-resource scores (CPU and memory, with the pod's non-zero requests added), weighted by
 * the strategy's resource weights.
 */
export function nodeResourcesFitScoreWith(strategy: ScoringStrategy): ScorePlugin {
  const perResource = resourceScorer(strategy);
  const { cpuWeight, memoryWeight } = strategy;
  const totalWeight = cpuWeight + memoryWeight;
  return {
    name: "NodeResourcesFit",
    prepareScore(pod) {
      if (totalWeight === 0) return null;
      const nz = nonZeroRequests(pod.requests);
      return {
        score: (node) =>
          Math.floor(
            (perResource(node.nonZeroRequested.milliCpu + nz.milliCpu, node.allocatable.milliCpu) *
              cpuWeight +
              perResource(
                node.nonZeroRequested.memoryBytes + nz.memoryBytes,
                node.allocatable.memoryBytes,
              ) *
                memoryWeight) /
              totalWeight,
          ),
      };
    },
  };
}

export const leastAllocatedScore = nodeResourcesFitScoreWith(DEFAULT_SCORING_STRATEGY);

// ---- NodeResourcesFitArgs ------------------------------------------------------------------

const STRATEGY_TYPES = ["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"] as const;
const SCORED_RESOURCES = ["cpu", "memory"] as const;
/** kube's bounds on a scoring resource's weight. */
export const MAX_RESOURCE_WEIGHT = 100;

function shapeOf(value: JsonValue | undefined, path: string, errors: FieldError[]) {
  const shape: UtilizationShapePoint[] = [];
  const points = listField(value, path, errors);
  if (points.length === 0) errors.push(required(path, "at least one point"));
  points.forEach((p, i) => {
    const at = index(path, i);
    const point = objectField(p, at, errors);
    errors.push(...unknownFieldErrors(point, ["utilization", "score"], at));
    const utilization = intField(
      point.utilization,
      `${at}.utilization`,
      { min: 0, max: MAX_NODE_SCORE, fallback: 0 },
      errors,
    );
    const score = intField(
      point.score,
      `${at}.score`,
      { min: 0, max: MAX_SHAPE_SCORE, fallback: 0 },
      errors,
    );
    const prev = shape.at(-1);
    if (prev !== undefined && utilization <= prev.utilization)
      errors.push(
        invalid(`${at}.utilization`, utilization, "values must be sorted in increasing order"),
      );
    shape.push({ utilization, score });
  });
  return shape;
}

/** NodeResourcesFitArgs' `scoringStrategy`, with every error found (paths under `path`). */
export function scoringStrategyOf(
  args: JsonObject,
  path: string,
  errors: FieldError[],
): ScoringStrategy {
  errors.push(...unknownFieldErrors(args, ["apiVersion", "kind", "scoringStrategy"], path));
  const at = `${path}.scoringStrategy`;
  const s = objectField(args.scoringStrategy, at, errors);
  errors.push(...unknownFieldErrors(s, ["type", "resources", "requestedToCapacityRatio"], at));
  const type = s.type ?? "LeastAllocated";
  if (!STRATEGY_TYPES.includes(type as (typeof STRATEGY_TYPES)[number])) {
    errors.push(notSupported(`${at}.type`, type, STRATEGY_TYPES));
    return DEFAULT_SCORING_STRATEGY;
  }
  const weights = { cpu: 1, memory: 1 };
  if (s.resources !== undefined) {
    weights.cpu = 0;
    weights.memory = 0;
    listField(s.resources, `${at}.resources`, errors).forEach((r, i) => {
      const rp = index(`${at}.resources`, i);
      const resource = objectField(r, rp, errors);
      errors.push(...unknownFieldErrors(resource, ["name", "weight"], rp));
      const name = resource.name;
      if (!SCORED_RESOURCES.includes(name as (typeof SCORED_RESOURCES)[number])) {
        errors.push(notSupported(`${rp}.name`, name ?? "", SCORED_RESOURCES));
        return;
      }
      weights[name as "cpu" | "memory"] = intField(
        resource.weight,
        `${rp}.weight`,
        { min: 1, max: MAX_RESOURCE_WEIGHT, fallback: 1 },
        errors,
      );
    });
  }
  const base = { cpuWeight: weights.cpu, memoryWeight: weights.memory };
  if (type !== "RequestedToCapacityRatio") {
    if (s.requestedToCapacityRatio !== undefined)
      errors.push(
        forbidden(`${at}.requestedToCapacityRatio`, `only with type "RequestedToCapacityRatio"`),
      );
    return { type: type as "LeastAllocated" | "MostAllocated", ...base };
  }
  const rtcPath = `${at}.requestedToCapacityRatio`;
  const rtc = objectField(s.requestedToCapacityRatio, rtcPath, errors);
  errors.push(...unknownFieldErrors(rtc, ["shape"], rtcPath));
  return { type, ...base, shape: shapeOf(rtc.shape, `${rtcPath}.shape`, errors) };
}
