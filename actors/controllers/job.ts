/**
 * The Job controller (kube-controller-manager's `job` controller, NonIndexed completion): runs
 * pods from the Job's template until `completions` of them succeed, at most `parallelism` at a
 * time; counts failures (failed pods, and container restarts under `restartPolicy: OnFailure`)
 * and fails the Job past `backoffLimit` (reason BackoffLimitExceeded) or past
 * `activeDeadlineSeconds` from its start (reason DeadlineExceeded), stopping its pods; reports
 * `status.active/ready/succeeded/failed/startTime/completionTime` and the `Complete` or `Failed`
 * condition (what `kubectl wait --for=condition=complete` waits for); deletes a finished Job
 * `ttlSecondsAfterFinished` after it finished (kube's TTL-after-finished controller), its pods
 * following through the garbage collector.
 *
 * `planJob` is the pure decision; the reconcile function carries it out, guarded by
 * expectations against its own stale cache, as the ReplicaSet controller is.
 * A replacement pod after failures waits out an exponential backoff (JOB_BACKOFF_INITIAL_MS
 * doubling). Simplification: `suspend` stops new pods but does not delete running ones.
 */
import { asArray, asObject, asString, isJsonObject, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isNotFound } from "../client/errors.ts";
import { keyString, type ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { Expectations } from "./expectations.ts";
import { controllerOf, isBeingDeleted, nameOf, uidOf } from "./owner-references.ts";
import { isPodActive, isPodReady } from "./pod-conditions.ts";
import {
  EXPECTATIONS_RECHECK_MS,
  MAX_POD_CHANGES_PER_RECONCILE,
  PODS,
  podFromTemplate,
  randomPodSuffix,
} from "./replicaset.ts";

export const JOBS = "jobs.batch";
/**
 * After a failed pod the next one waits `initial × 2^(failures − 1)`, at most the max (kube's
 * pod failure backoff, 10 s and 6 min there; bosun's defaults are as fast as its other loops).
 */
export const JOB_BACKOFF_INITIAL_MS = 1_000;
export const JOB_BACKOFF_MAX_MS = 60_000;

export function jobBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(JOB_BACKOFF_INITIAL_MS * 2 ** (failures - 1), JOB_BACKOFF_MAX_MS);
}

/** When a failed pod failed: its containers' last finishedAt (else its creation). */
function failedAtMs(pod: JsonObject): number {
  let latest = Date.parse(asString(asObject(pod.metadata).creationTimestamp)) || 0;
  for (const s of asArray(asObject(pod.status).containerStatuses)) {
    const t = Date.parse(asString(asObject(asObject(asObject(s).state).terminated).finishedAt));
    if (!Number.isNaN(t) && t > latest) latest = t;
  }
  return latest;
}

export interface JobPlan {
  create: number;
  /** Active pods to stop (the Job finished, failed, or has more than it wants). */
  delete: JsonObject[];
  status: JsonObject;
  /** Finished and past `ttlSecondsAfterFinished`: delete the Job. */
  deleteJob: boolean;
  /** Look again after this (a deadline or a TTL coming), or null. */
  requeueAfterMs: number | null;
}

const phaseOf = (pod: JsonObject) => asString(asObject(pod.status).phase);

function conditionOf(job: JsonObject, type: string): JsonObject | undefined {
  return asArray(asObject(job.status).conditions).find(
    (c) => isJsonObject(c) && c.type === type && c.status === "True",
  ) as JsonObject | undefined;
}

/** The Job has finished: Complete or Failed. */
export function isJobFinished(job: JsonObject): boolean {
  return conditionOf(job, "Complete") !== undefined || conditionOf(job, "Failed") !== undefined;
}

function finishedCondition(type: "Complete" | "Failed", nowIso: string, reason = "", message = "") {
  const c: JsonObject = {
    type,
    status: "True",
    lastProbeTime: nowIso,
    lastTransitionTime: nowIso,
  };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

/** Restarts of the containers of `pods` (failures under restartPolicy OnFailure). */
function restartsOf(pods: readonly JsonObject[]): number {
  let n = 0;
  for (const p of pods)
    for (const s of asArray(asObject(p.status).containerStatuses))
      n += Number(asObject(s).restartCount ?? 0);
  return n;
}

/** The pure decision for `job` given the pods of its namespace. */
export function planJob(job: JsonObject, pods: readonly JsonObject[], nowMs: number): JobPlan {
  const uid = uidOf(job);
  const owned = pods.filter((p) => controllerOf(p)?.uid === uid);
  const active = owned.filter(isPodActive);
  const succeeded = owned.filter((p) => phaseOf(p) === "Succeeded").length;
  const spec = asObject(job.spec);
  const onFailure = asString(asObject(asObject(spec.template).spec).restartPolicy) === "OnFailure";
  const failed =
    owned.filter((p) => phaseOf(p) === "Failed").length + (onFailure ? restartsOf(active) : 0);
  const old = asObject(job.status);
  const nowIso = rfc3339(nowMs);
  const startTime = asString(old.startTime) || nowIso;
  const status: JsonObject = {
    ...old,
    startTime,
    active: active.length,
    ready: active.filter(isPodReady).length,
    succeeded,
    failed,
  };
  const plan: JobPlan = { create: 0, delete: [], status, deleteJob: false, requeueAfterMs: null };

  if (isJobFinished(job)) {
    plan.delete = active;
    status.active = 0;
    const ttl = spec.ttlSecondsAfterFinished;
    if (typeof ttl === "number") {
      const finished =
        Date.parse(asString(old.completionTime)) ||
        Date.parse(
          asString(
            (conditionOf(job, "Complete") ?? conditionOf(job, "Failed"))?.lastTransitionTime,
          ),
        ) ||
        nowMs;
      const leftMs = finished + ttl * 1000 - nowMs;
      if (leftMs <= 0) plan.deleteJob = true;
      else plan.requeueAfterMs = leftMs;
    }
    return plan;
  }

  const backoffLimit = typeof spec.backoffLimit === "number" ? spec.backoffLimit : 6;
  const deadlineSeconds = spec.activeDeadlineSeconds;
  const deadlineLeftMs =
    typeof deadlineSeconds === "number"
      ? Date.parse(startTime) + deadlineSeconds * 1000 - nowMs
      : Number.POSITIVE_INFINITY;
  const completions = typeof spec.completions === "number" ? spec.completions : null;
  const fail = (reason: string, message: string) => {
    status.conditions = [finishedCondition("Failed", nowIso, reason, message)];
    status.active = 0;
    plan.delete = active;
  };
  if (failed > backoffLimit) {
    fail("BackoffLimitExceeded", "Job has reached the specified backoff limit");
    return plan;
  }
  if (deadlineLeftMs <= 0) {
    fail("DeadlineExceeded", "Job was active longer than specified deadline");
    return plan;
  }
  const complete =
    completions !== null ? succeeded >= completions : succeeded > 0 && active.length === 0;
  if (complete) {
    status.conditions = [finishedCondition("Complete", nowIso)];
    status.completionTime = nowIso;
    status.active = 0;
    plan.delete = active;
    if (typeof spec.ttlSecondsAfterFinished === "number")
      plan.requeueAfterMs = spec.ttlSecondsAfterFinished * 1000;
    return plan;
  }
  const parallelism = typeof spec.parallelism === "number" ? spec.parallelism : 1;
  let want =
    completions !== null
      ? Math.min(parallelism, completions - succeeded)
      : succeeded > 0
        ? 0
        : parallelism;
  if (spec.suspend === true) want = Math.min(want, active.length); // no new pods while suspended
  plan.create = Math.max(0, Math.min(want - active.length, MAX_POD_CHANGES_PER_RECONCILE));
  const failedPods = owned.filter((p) => phaseOf(p) === "Failed");
  if (plan.create > 0 && failedPods.length > 0) {
    // a replacement after a failure waits out the backoff from the latest failure
    const readyAtMs = Math.max(...failedPods.map(failedAtMs)) + jobBackoffMs(failed);
    if (readyAtMs > nowMs) {
      plan.create = 0;
      plan.requeueAfterMs = readyAtMs - nowMs;
    }
  }
  if (active.length > want)
    plan.delete = [...active]
      .sort((a, b) =>
        asString(asObject(b.metadata).creationTimestamp).localeCompare(
          asString(asObject(a.metadata).creationTimestamp),
        ),
      )
      .slice(0, active.length - want);
  if (Number.isFinite(deadlineLeftMs))
    plan.requeueAfterMs = Math.min(plan.requeueAfterMs ?? deadlineLeftMs, deadlineLeftMs);
  return plan;
}

export function jobController(
  ctx: ControllerContext,
  options: { suffix?: () => string } = {},
): ControllerDefinition {
  const expectations = new Expectations(ctx.clock);
  const suffix = options.suffix ?? randomPodSuffix;
  const { api, cache, clock } = ctx;

  async function reconcile(key: ObjectKey) {
    const jobKey = keyString(key);
    const job = cache.get(JOBS, key);
    if (!job || isBeingDeleted(job)) {
      expectations.forget(jobKey);
      return undefined;
    }
    const ns = key.namespace;
    const settled = expectations.satisfied(jobKey, (k) => {
      const slash = k.indexOf("/");
      return (
        cache.get(PODS, { namespace: k.slice(0, slash), name: k.slice(slash + 1) }) !== undefined
      );
    });
    // counting from a cache that misses our own last creates or deletes would miscount
    if (!settled) return { requeueAfterMs: EXPECTATIONS_RECHECK_MS };
    const plan = planJob(job, cache.list(PODS, ns), clock.wallMs());
    if (plan.deleteJob) {
      try {
        await api.delete(JOBS, nameOf(job), { namespace: ns, propagationPolicy: "Background" });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return undefined;
    }
    const errors: unknown[] = [];
    if (plan.create > 0) {
      const created: string[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: plan.create }, async () => {
          const pod = await api.create(PODS, podFromTemplate(job, suffix()), { namespace: ns });
          created.push(`${ns}/${nameOf(pod)}`);
        }),
      );
      for (const r of results) if (r.status === "rejected") errors.push(r.reason);
      expectations.expectCreated(jobKey, created);
    }
    if (plan.delete.length > 0) {
      const deleted: string[] = [];
      const results = await Promise.allSettled(
        plan.delete.map(async (pod) => {
          try {
            await api.delete(PODS, nameOf(pod), {
              namespace: ns,
              preconditions: { uid: uidOf(pod) },
            });
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
          deleted.push(`${ns}/${nameOf(pod)}`);
        }),
      );
      for (const r of results) if (r.status === "rejected") errors.push(r.reason);
      expectations.expectDeleted(jobKey, deleted);
    }
    if (JSON.stringify(plan.status) !== JSON.stringify(asObject(job.status))) {
      try {
        await api.update(
          JOBS,
          { ...job, status: plan.status },
          { namespace: ns, subresource: "status" },
        );
      } catch (error) {
        if (!isNotFound(error)) errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
    return plan.requeueAfterMs === null ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  return { name: "job", primary: JOBS, primaryKind: "Job", owns: [PODS], reconcile };
}
