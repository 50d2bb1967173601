/**
 * The HorizontalPodAutoscaler controller (autoscaling/v2, kube-controller-manager's
 * podautoscaler), for the Resource metric `cpu` with a target `Utilization`:
 *
 *   every syncPeriodMs, per HPA:
 *     scale of the target (its /scale subresource) → its pods (Scale.status.selector)
 *     → their CPU usage (metrics.k8s.io, from the kubelets) and requests
 *     → utilization = Σ usage / Σ requests of the pods that have metrics
 *     → desired = ceil(ready pods × utilization / target), unless within the 10 % tolerance
 *     → scale down only to the highest recommendation of the stabilization window
 *       (behavior.scaleDown.stabilizationWindowSeconds, default downscaleStabilizationMs)
 *     → clamped to [minReplicas, maxReplicas] → the scale written, an Event, the status.
 *
 * The pure part is `planHorizontalScaling` (kube's replica_calculator.go, simplified: pods
 * without metrics are left out, not assumed at 0 % or 100 %). Other metric types (Pods,
 * Object, External, memory) are reported as not supported in the ScalingActive condition.
 */
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { matches, parseLabelSelector } from "../api/label-selector.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isQuantity, quantityMilliValue } from "../api/quantity.ts";
import { withTypeMeta } from "../client/event-recorder.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition, ReconcileResult } from "./controller.ts";
import { nameOf } from "./owner-references.ts";

export const HPAS = "horizontalpodautoscalers.autoscaling";
const PODS = "pods";
const POD_METRICS = "pods.metrics.k8s.io";

/** kube-controller-manager's HPA tolerance: no change within ±10 % of the target. */
export const HPA_TOLERANCE = 0.1;

export interface HpaOptions {
  /** --horizontal-pod-autoscaler-sync-period (Kubernetes: 15 s). */
  syncPeriodMs: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (Kubernetes: 5 min). */
  downscaleStabilizationMs: number;
}

export const DEFAULT_HPA_OPTIONS: HpaOptions = {
  syncPeriodMs: 15_000,
  downscaleStabilizationMs: 300_000,
};

/** Targets the controller can scale, by kind (through their /scale subresource). */
const SCALE_TARGETS: Record<string, string> = {
  Deployment: "deployments.apps",
  ReplicaSet: "replicasets.apps",
};

export interface ScalingInput {
  currentReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  targetUtilization: number;
  /** Per ready pod with metrics: its CPU usage and request, in millicores. */
  pods: { usageMilli: number; requestMilli: number }[];
}

export interface ScalingPlan {
  /** What the metric asks for, before stabilization and bounds. */
  recommended: number;
  /** Σ usage / Σ requests, in percent; null when no pod has both. */
  utilization: number | null;
}

/** kube's replica calculator for a resource utilization target. */
export function planHorizontalScaling(input: ScalingInput): ScalingPlan {
  const requests = input.pods.reduce((n, p) => n + p.requestMilli, 0);
  if (input.pods.length === 0 || requests <= 0)
    return { recommended: input.currentReplicas, utilization: null };
  const usage = input.pods.reduce((n, p) => n + p.usageMilli, 0);
  const utilization = (usage * 100) / requests;
  const ratio = utilization / input.targetUtilization;
  if (Math.abs(ratio - 1) <= HPA_TOLERANCE)
    return { recommended: input.currentReplicas, utilization };
  return { recommended: Math.ceil(ratio * input.pods.length), utilization };
}

/** The highest recommendation in the window, for a scale-down (kube's stabilizeRecommendation). */
export function stabilize(
  history: { atMs: number; replicas: number }[],
  nowMs: number,
  windowMs: number,
  recommended: number,
  current: number,
): number {
  if (recommended >= current) return recommended;
  const recent = history.filter((h) => nowMs - h.atMs <= windowMs).map((h) => h.replicas);
  return Math.min(current, Math.max(recommended, ...recent));
}

const clamp = (n: number, min: number, max: number) => Math.max(min, Math.min(max, n));

function cpuRequestMilli(pod: JsonObject): number {
  let total = 0;
  for (const c of asArray(asObject(pod.spec).containers)) {
    const request = asObject(asObject(asObject(c).resources).requests).cpu;
    if (request !== undefined && isQuantity(String(request)))
      total += quantityMilliValue(request as string | number);
  }
  return total;
}

function usageMilli(metrics: JsonObject): number {
  let total = 0;
  for (const c of asArray(metrics.containers)) {
    const cpu = asObject(asObject(c).usage).cpu;
    if (cpu !== undefined && isQuantity(String(cpu))) total += quantityMilliValue(String(cpu));
  }
  return total;
}

function isReady(pod: JsonObject): boolean {
  const status = asObject(pod.status);
  if (asString(status.phase) !== "Running" || asObject(pod.metadata).deletionTimestamp)
    return false;
  return asArray(status.conditions).some(
    (c) => asObject(c).type === "Ready" && asObject(c).status === "True",
  );
}

/** The CPU utilization target of the HPA's metrics, or null when it has none bosun follows. */
function cpuTarget(hpa: JsonObject): number | null {
  const metrics = asArray(asObject(hpa.spec).metrics).map(asObject);
  // autoscaling/v2's default: 80 % CPU
  if (metrics.length === 0) return 80;
  for (const m of metrics) {
    const resource = asObject(m.resource);
    const target = asObject(resource.target);
    if (m.type === "Resource" && resource.name === "cpu" && target.type === "Utilization")
      return Number(target.averageUtilization ?? 80);
  }
  return null;
}

export function horizontalPodAutoscalerController(
  ctx: ControllerContext,
  overrides: Partial<HpaOptions> = {},
): ControllerDefinition {
  const options = { ...DEFAULT_HPA_OPTIONS, ...overrides };
  const { api, cache, clock } = ctx;
  const recorder = ctx.events.newRecorder({ component: "horizontal-pod-autoscaler" });
  /** Recommendations per HPA (uid), for the scale-down stabilization window. */
  const history = new Map<string, { atMs: number; replicas: number }[]>();

  async function reconcile(key: ObjectKey): Promise<ReconcileResult | undefined> {
    const hpa = cache.get(HPAS, key);
    if (!hpa) return undefined;
    const uid = asString(asObject(hpa.metadata).uid);
    const spec = asObject(hpa.spec);
    const ref = asObject(spec.scaleTargetRef);
    const resource = SCALE_TARGETS[asString(ref.kind)];
    const ns = key.namespace;
    const conditions: JsonObject[] = [];
    const now = rfc3339(clock.wallMs());
    const condition = (type: string, ok: boolean, reason: string, message: string) =>
      conditions.push({
        type,
        status: ok ? "True" : "False",
        reason,
        message,
        lastTransitionTime: now,
      });
    const writeStatus = async (status: JsonObject) => {
      await api.update(
        HPAS,
        { ...hpa, status: { ...asObject(hpa.status), ...status, conditions } },
        { namespace: ns, subresource: "status" },
      );
    };
    const target = cpuTarget(hpa);
    if (resource === undefined || target === null) {
      condition(
        "ScalingActive",
        false,
        resource === undefined ? "FailedGetScale" : "InvalidMetricSourceType",
        resource === undefined
          ? `the HPA controller scales Deployments and ReplicaSets, not ${asString(ref.kind)}`
          : "only the cpu Resource metric with a Utilization target is supported",
      );
      await writeStatus({});
      return { requeueAfterMs: options.syncPeriodMs };
    }
    const scale = await api.get(resource, asString(ref.name), {
      namespace: ns,
      subresource: "scale",
    });
    const current = Number(asObject(scale.spec).replicas ?? 0);
    const selector = parseLabelSelector(asString(asObject(scale.status).selector));
    const metrics = await api.list({ resource: POD_METRICS, namespace: ns });
    const usageByPod = new Map(
      metrics.items.map((m) => [asString(asObject(m.metadata).name), usageMilli(m)]),
    );
    const pods = cache
      .list(PODS, ns)
      .filter((p) =>
        matches(selector, asObject(asObject(p.metadata).labels) as Record<string, string>),
      )
      .filter(isReady)
      .flatMap((p) => {
        const usage = usageByPod.get(nameOf(p));
        return usage === undefined ? [] : [{ usageMilli: usage, requestMilli: cpuRequestMilli(p) }];
      });
    const minReplicas = Number(spec.minReplicas ?? 1);
    const maxReplicas = Number(spec.maxReplicas ?? minReplicas);
    const plan = planHorizontalScaling({
      currentReplicas: current,
      minReplicas,
      maxReplicas,
      targetUtilization: target,
      pods,
    });
    const nowMs = clock.nowMs();
    const windowSeconds = asObject(asObject(spec.behavior).scaleDown).stabilizationWindowSeconds;
    const windowMs =
      typeof windowSeconds === "number" ? windowSeconds * 1000 : options.downscaleStabilizationMs;
    const past = (history.get(uid) ?? []).filter((h) => nowMs - h.atMs <= windowMs);
    past.push({ atMs: nowMs, replicas: plan.recommended });
    history.set(uid, past);
    const desired =
      current === 0
        ? 0 // scaled to zero by hand: autoscaling is off (kube's behaviour)
        : clamp(
            stabilize(past, nowMs, windowMs, plan.recommended, current),
            minReplicas,
            maxReplicas,
          );
    condition(
      "AbleToScale",
      true,
      "SucceededGetScale",
      "the HPA controller was able to get the target's current scale",
    );
    condition(
      "ScalingActive",
      plan.utilization !== null,
      plan.utilization !== null ? "ValidMetricFound" : "FailedGetResourceMetric",
      plan.utilization !== null
        ? "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"
        : "did not receive metrics for targeted pods (pods might be unready, or lack cpu requests)",
    );
    let lastScaleTime = asObject(hpa.status).lastScaleTime;
    if (desired !== current) {
      await api.update(
        resource,
        { ...scale, spec: { ...asObject(scale.spec), replicas: desired } },
        { namespace: ns, subresource: "scale" },
      );
      lastScaleTime = now;
      recorder.event(
        withTypeMeta(hpa, "autoscaling/v2", "HorizontalPodAutoscaler"),
        "Normal",
        "SuccessfulRescale",
        `New size: ${desired}; reason: cpu resource utilization (percentage of request) ${desired > current ? "above" : "below"} target`,
      );
    }
    const utilization = plan.utilization === null ? null : Math.round(plan.utilization);
    await writeStatus({
      currentReplicas: current,
      desiredReplicas: desired,
      ...(lastScaleTime ? { lastScaleTime } : {}),
      currentMetrics:
        utilization === null
          ? []
          : [
              {
                type: "Resource",
                resource: {
                  name: "cpu",
                  current: {
                    averageUtilization: utilization,
                    averageValue: `${Math.round(pods.reduce((n, p) => n + p.usageMilli, 0) / pods.length)}m`,
                  },
                },
              },
            ],
    });
    return { requeueAfterMs: options.syncPeriodMs };
  }

  return {
    name: "horizontal-pod-autoscaler",
    primary: HPAS,
    primaryKind: "HorizontalPodAutoscaler",
    // a status write of ours is not a reason to look again before the sync period
    primaryFilter: (_hpa, event) => event !== "update",
    reconcile,
  };
}
