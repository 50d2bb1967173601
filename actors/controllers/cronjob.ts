/**
 * The CronJob controller (kube-controller-manager's `cronjob` controller, v2): at each time the
 * `schedule` names, creates a Job from `jobTemplate`, named `<cronjob>-<scheduled time>` so that
 * a retried or repeated reconcile creates it once. `concurrencyPolicy`: Allow runs side by side;
 * Forbid skips a run while the previous Job is active (the missed run starts when it ends, if
 * still within `startingDeadlineSeconds`); Replace deletes the active Jobs first. A run more than
 * `startingDeadlineSeconds` late is skipped. `suspend` stops new runs. Finished Jobs beyond
 * `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` are deleted, oldest first. Status:
 * `active` (references to the running Jobs), `lastScheduleTime`, `lastSuccessfulTime`.
 *
 * `planCronJob` is the pure decision (time comes in); the reconcile function carries it out and
 * asks to be woken at the next scheduled time. Times are UTC (`timeZone` other than UTC is
 * refused by validation).
 */
import { parseCronSchedule } from "../api/cron-schedule.ts";
import {
  asArray,
  asObject,
  asString,
  isJsonObject,
  type JsonObject,
  jsonClone,
} from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isAlreadyExists, isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { isJobFinished, JOBS } from "./job.ts";
import {
  controllerOf,
  isBeingDeleted,
  nameOf,
  newControllerRef,
  uidOf,
} from "./owner-references.ts";

export const CRONJOBS = "cronjobs.batch";
export const SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/** Scheduled times walked at most before looking only at the last RECENT_WINDOW_MS. */
export const MAX_SCHEDULE_STEPS = 1_000;
/** A day: a schedule fires at least daily, or walking from a day back is cheap anyway. */
const RECENT_WINDOW_MS = 24 * 3_600_000;
/** Woken this long after the next scheduled time, so that it has surely come. */
const WAKE_SLACK_MS = 50;

export interface CronJobPlan {
  /** A Job to create now (its scheduled time is `status.lastScheduleTime`). */
  create: JsonObject | null;
  /** Jobs to delete: Replace's active ones, and history beyond the limits. */
  delete: JsonObject[];
  status: JsonObject;
  /** Why a due run was not started (for an event), or null. */
  skipped: string | null;
  requeueAfterMs: number | null;
}

function succeededJob(job: JsonObject): boolean {
  return asArray(asObject(job.status).conditions).some(
    (c) => isJsonObject(c) && c.type === "Complete" && c.status === "True",
  );
}

/** kube's `getJobName`: minutes since the epoch; bosun's sub-minute `@every` runs use seconds. */
export function jobNameFor(cronJob: JsonObject, scheduledMs: number): string {
  const stamp =
    scheduledMs % 60_000 === 0 ? Math.floor(scheduledMs / 60_000) : Math.floor(scheduledMs / 1000);
  return `${nameOf(cronJob)}-${stamp}`;
}

export function jobFromTemplate(cronJob: JsonObject, scheduledMs: number): JsonObject {
  const template = asObject(asObject(cronJob.spec).jobTemplate);
  const tmeta = asObject(template.metadata);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: jobNameFor(cronJob, scheduledMs),
      namespace: asString(asObject(cronJob.metadata).namespace),
      labels: jsonClone(asObject(tmeta.labels)),
      annotations: {
        ...jsonClone(asObject(tmeta.annotations)),
        [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339(scheduledMs),
      },
      ownerReferences: [newControllerRef(cronJob) as unknown as JsonObject],
    },
    spec: jsonClone(asObject(template.spec)),
  };
}

const ref = (job: JsonObject): JsonObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  name: nameOf(job),
  namespace: asString(asObject(job.metadata).namespace),
  uid: uidOf(job),
  resourceVersion: asString(asObject(job.metadata).resourceVersion),
});

const finishedAt = (job: JsonObject) =>
  asString(asObject(job.status).completionTime) ||
  asString(asObject(job.metadata).creationTimestamp);

/**
 * The most recent scheduled time in (`sinceMs`, `nowMs`], or null. Walks the schedule from
 * `sinceMs`; after MAX_SCHEDULE_STEPS (a controller down for a long while) it restarts from a
 * window just before `nowMs`, since only the most recent missed time is ever started.
 */
export function mostRecentScheduleMs(
  schedule: string,
  sinceMs: number,
  nowMs: number,
): number | null {
  const s = parseCronSchedule(schedule);
  let latest: number | null = null;
  let steps = 0;
  for (let t = s.next(sinceMs); t !== null && t <= nowMs; t = s.next(t)) {
    latest = t;
    if (++steps === MAX_SCHEDULE_STEPS)
      return mostRecentScheduleMs(schedule, Math.max(t, nowMs - RECENT_WINDOW_MS), nowMs) ?? latest;
  }
  return latest;
}

/** The pure decision for `cj` given the Jobs of its namespace, at `nowMs` (wall). */
export function planCronJob(
  cj: JsonObject,
  jobs: readonly JsonObject[],
  nowMs: number,
): CronJobPlan {
  const uid = uidOf(cj);
  const owned = jobs.filter((j) => controllerOf(j)?.uid === uid && !isBeingDeleted(j));
  const active = owned.filter((j) => !isJobFinished(j));
  const spec = asObject(cj.spec);
  const old = asObject(cj.status);
  const status: JsonObject = { ...old, active: active.map(ref) };
  if (active.length === 0) delete status.active;
  const succeededTimes = owned.filter(succeededJob).map(finishedAt).sort();
  if (succeededTimes.length > 0) status.lastSuccessfulTime = succeededTimes.at(-1) as string;
  const plan: CronJobPlan = {
    create: null,
    delete: [],
    status,
    skipped: null,
    requeueAfterMs: null,
  };

  // history: the finished Jobs beyond the limits go, oldest first
  const trim = (finished: JsonObject[], limit: unknown) => {
    const keep = typeof limit === "number" ? limit : finished.length;
    const sorted = [...finished].sort((a, b) => finishedAt(a).localeCompare(finishedAt(b)));
    plan.delete.push(...sorted.slice(0, Math.max(0, sorted.length - keep)));
  };
  trim(owned.filter(succeededJob), spec.successfulJobsHistoryLimit);
  trim(
    owned.filter((j) => isJobFinished(j) && !succeededJob(j)),
    spec.failedJobsHistoryLimit,
  );

  const schedule = asString(spec.schedule);
  const sinceMs =
    Date.parse(asString(old.lastScheduleTime)) ||
    Date.parse(asString(asObject(cj.metadata).creationTimestamp)) ||
    nowMs;
  const nextMs = parseCronSchedule(schedule).next(Math.max(nowMs, sinceMs));
  plan.requeueAfterMs = nextMs === null ? null : Math.max(0, nextMs - nowMs) + WAKE_SLACK_MS;
  if (spec.suspend === true || isBeingDeleted(cj)) return plan;
  const dueMs = mostRecentScheduleMs(schedule, sinceMs, nowMs);
  if (dueMs === null) return plan;
  const deadline = spec.startingDeadlineSeconds;
  if (typeof deadline === "number" && nowMs - dueMs > deadline * 1000) {
    plan.skipped = `Missed scheduled time to start a job: ${rfc3339(dueMs)}`;
    return plan;
  }
  if (spec.concurrencyPolicy === "Forbid" && active.length > 0) {
    // kube leaves lastScheduleTime alone: the run starts when the active Job ends, if in time
    plan.skipped =
      "Not starting job because prior execution is running and concurrency policy is Forbid";
    return plan;
  }
  if (spec.concurrencyPolicy === "Replace") plan.delete.push(...active);
  plan.create = jobFromTemplate(cj, dueMs);
  status.lastScheduleTime = rfc3339(dueMs);
  return plan;
}

export function cronJobController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache, clock } = ctx;

  async function reconcile(key: ObjectKey) {
    const cj = cache.get(CRONJOBS, key);
    if (!cj) return undefined;
    const ns = key.namespace;
    const plan = planCronJob(cj, cache.list(JOBS, ns), clock.wallMs());
    for (const job of plan.delete) {
      try {
        await api.delete(JOBS, nameOf(job), { namespace: ns, propagationPolicy: "Background" });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    if (plan.create !== null) {
      try {
        const created = await api.create(JOBS, plan.create, { namespace: ns });
        plan.status.active = [...asArray(plan.status.active), ref(created)];
      } catch (error) {
        // made by an earlier try whose answer was lost: the same run, already started
        if (!isAlreadyExists(error)) throw error;
      }
    }
    if (JSON.stringify(plan.status) !== JSON.stringify(asObject(cj.status))) {
      try {
        await api.update(
          CRONJOBS,
          { ...cj, status: plan.status },
          { namespace: ns, subresource: "status" },
        );
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return plan.requeueAfterMs === null ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  }

  return { name: "cronjob", primary: CRONJOBS, primaryKind: "CronJob", owns: [JOBS], reconcile };
}
