/**
 * Jobs and CronJobs, their pure parts: cron schedules (robfig/cron's standard parser, with
 * `@every`), the Job controller's plan (parallelism, completions, backoffLimit counting failed
 * pods and OnFailure restarts, activeDeadlineSeconds, ttlSecondsAfterFinished) and the CronJob
 * controller's (due runs, concurrencyPolicy Allow/Forbid/Replace, startingDeadlineSeconds,
 * suspend, history limits).
 */
import { describe, expect, it } from "vitest";
import { CronParseError, parseCronSchedule } from "../../../actors/api/cron-schedule.ts";
import { applyDefaults } from "../../../actors/api/defaults.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { validateCreate } from "../../../actors/api/validation.ts";
import { jobNameFor, planCronJob } from "../../../actors/controllers/cronjob.ts";
import { planJob } from "../../../actors/controllers/job.ts";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

describe("cron schedules", () => {
  const next = (spec: string, from: string) =>
    iso(parseCronSchedule(spec).next(Date.parse(from)) as number);

  it("five fields, ranges, steps, lists and names; both day fields restricted means either", () => {
    expect(next("*/15 * * * *", "2024-05-01T10:07:30Z")).toBe("2024-05-01T10:15:00Z");
    expect(next("0 9-17/4 * * MON-FRI", "2024-05-03T18:00:00Z")).toBe("2024-05-06T09:00:00Z");
    expect(next("30 2 1,15 * *", "2024-05-02T00:00:00Z")).toBe("2024-05-15T02:30:00Z");
    expect(next("0 0 13 * 5", "2024-05-01T00:00:00Z")).toBe("2024-05-03T00:00:00Z"); // a Friday
    expect(next("@hourly", "2024-05-01T10:00:00Z")).toBe("2024-05-01T11:00:00Z");
    expect(next("@every 5s", "2024-05-01T10:00:01.500Z")).toBe("2024-05-01T10:00:06Z");
  });

  it("bad schedules are refused with robfig's words", () => {
    expect(() => parseCronSchedule("* * *")).toThrow(CronParseError);
    expect(() => parseCronSchedule("61 * * * *")).toThrow(/above maximum/);
    expect(() => parseCronSchedule("@every soon")).toThrow(/duration/);
    expect(() => parseCronSchedule("TZ=UTC * * * * *")).toThrow(/timeZone/);
  });
});

function job(spec: JsonObject, status: JsonObject = {}): JsonObject {
  return applyDefaults("Job", {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "j", namespace: "default", uid: "job-uid", creationTimestamp: iso(T0) },
    spec: {
      template: {
        spec: { restartPolicy: "Never", containers: [{ name: "c", image: "bosun/sh" }] },
      },
      ...spec,
    },
    status,
  });
}

function pod(name: string, phase: string, restarts = 0): JsonObject {
  return {
    metadata: {
      name,
      namespace: "default",
      creationTimestamp: iso(T0),
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "Job", name: "j", uid: "job-uid", controller: true },
      ],
    },
    status: { phase, containerStatuses: [{ name: "c", restartCount: restarts }] },
  };
}

describe("the Job controller's plan", () => {
  it("defaults: one completion, parallelism 1, backoffLimit 6, a selector by the Job's uid", () => {
    const j = job({});
    expect(j.spec).toMatchObject({
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": "job-uid" } },
    });
    expect(validateCreate("Job", j)).toEqual([]);
    const always = job({ template: { spec: { containers: [{ name: "c", image: "x" }] } } });
    expect(validateCreate("Job", always).map((e) => e.field)).toEqual([
      "spec.template.spec.restartPolicy",
    ]);
  });

  it("runs up to parallelism pods until completions succeed, then Complete", () => {
    const j = job({ completions: 3, parallelism: 2 });
    expect(planJob(j, [], T0)).toMatchObject({
      create: 2,
      status: { active: 0, startTime: iso(T0) },
    });
    expect(planJob(j, [pod("a", "Succeeded"), pod("b", "Running")], T0).create).toBe(1);
    const done = planJob(
      j,
      [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c", "Succeeded")],
      T0,
    );
    expect(done.create).toBe(0);
    expect(done.status).toMatchObject({
      succeeded: 3,
      completionTime: iso(T0),
      conditions: [{ type: "Complete", status: "True" }],
    });
  });

  it("failed pods, and restarts under OnFailure, count against backoffLimit; replacements back off", () => {
    const j = job({ backoffLimit: 2 });
    // the replacement waits out the backoff from the last failure: 1 s, then 2 s, …
    expect(planJob(j, [pod("a", "Failed")], T0 + 500)).toMatchObject({
      create: 0,
      requeueAfterMs: 500,
    });
    expect(planJob(j, [pod("a", "Failed")], T0 + 1_000).create).toBe(1);
    expect(planJob(j, [pod("a", "Failed"), pod("b", "Failed")], T0 + 1_999).create).toBe(0);
    expect(planJob(j, [pod("a", "Failed"), pod("b", "Failed")], T0 + 2_000).create).toBe(1);
    const failed = planJob(j, [pod("a", "Failed"), pod("b", "Failed"), pod("c", "Failed")], T0);
    expect(failed.create).toBe(0);
    expect(failed.status).toMatchObject({
      failed: 3,
      conditions: [{ type: "Failed", reason: "BackoffLimitExceeded" }],
    });
    const onFailure = job({
      backoffLimit: 2,
      template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "x" }] } },
    });
    const restarting = pod("a", "Running", 3);
    const plan = planJob(onFailure, [restarting], T0);
    expect(plan.status).toMatchObject({ conditions: [{ type: "Failed" }] });
    expect(plan.delete).toEqual([restarting]);
  });

  it("activeDeadlineSeconds from the start fails the Job and stops its pods", () => {
    const j = job({ activeDeadlineSeconds: 10 }, { startTime: iso(T0) });
    const running = pod("a", "Running");
    expect(planJob(j, [running], T0 + 4_000).requeueAfterMs).toBe(6_000);
    const late = planJob(j, [running], T0 + 10_000);
    expect(late.status).toMatchObject({
      conditions: [{ type: "Failed", reason: "DeadlineExceeded" }],
    });
    expect(late.delete).toEqual([running]);
  });

  it("ttlSecondsAfterFinished deletes the finished Job once it has passed", () => {
    const finished = job(
      { ttlSecondsAfterFinished: 5 },
      { completionTime: iso(T0), conditions: [{ type: "Complete", status: "True" }] },
    );
    expect(planJob(finished, [], T0 + 1_000)).toMatchObject({
      deleteJob: false,
      requeueAfterMs: 4_000,
    });
    expect(planJob(finished, [], T0 + 5_000).deleteJob).toBe(true);
  });
});

function cronJob(spec: JsonObject, status: JsonObject = {}): JsonObject {
  return applyDefaults("CronJob", {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "cj", namespace: "default", uid: "cj-uid", creationTimestamp: iso(T0) },
    spec: {
      schedule: "*/5 * * * *",
      jobTemplate: {
        spec: {
          template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x" }] } },
        },
      },
      ...spec,
    },
    status,
  });
}

function ownedJob(name: string, finished: "Complete" | "Failed" | null, at = T0): JsonObject {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `${name}-uid`,
      creationTimestamp: iso(at),
      ownerReferences: [
        { apiVersion: "batch/v1", kind: "CronJob", name: "cj", uid: "cj-uid", controller: true },
      ],
    },
    status: finished
      ? { completionTime: iso(at), conditions: [{ type: finished, status: "True" }] }
      : {},
  };
}

describe("the CronJob controller's plan", () => {
  it("creates the due run's Job, named for its time, and wakes at the next", () => {
    const plan = planCronJob(cronJob({}), [], T0 + 5 * 60_000 + 1_000);
    expect(plan.create?.metadata).toMatchObject({ name: jobNameFor(cronJob({}), T0 + 300_000) });
    expect(plan.status.lastScheduleTime).toBe(iso(T0 + 300_000));
    expect(plan.requeueAfterMs).toBeGreaterThan(0);
    expect(planCronJob(cronJob({}), [], T0 + 60_000).create).toBeNull();
  });

  it("Forbid skips while a run is active; Replace deletes it; Allow runs both", () => {
    const now = T0 + 5 * 60_000;
    const active = ownedJob("cj-1", null);
    expect(planCronJob(cronJob({ concurrencyPolicy: "Forbid" }), [active], now)).toMatchObject({
      create: null,
      skipped: expect.stringContaining("Forbid"),
    });
    const replace = planCronJob(cronJob({ concurrencyPolicy: "Replace" }), [active], now);
    expect(replace.delete).toEqual([active]);
    expect(replace.create).not.toBeNull();
    expect(planCronJob(cronJob({}), [active], now).create).not.toBeNull();
  });

  it("a run later than startingDeadlineSeconds is skipped; suspend starts nothing", () => {
    const late = T0 + 5 * 60_000 + 30_000;
    expect(planCronJob(cronJob({ startingDeadlineSeconds: 10 }), [], late)).toMatchObject({
      create: null,
      skipped: expect.stringContaining("Missed scheduled time"),
    });
    expect(planCronJob(cronJob({ suspend: true }), [], late).create).toBeNull();
  });

  it("keeps successfulJobsHistoryLimit and failedJobsHistoryLimit finished Jobs, oldest go", () => {
    const jobs = [
      ownedJob("ok-1", "Complete", T0 - 4_000),
      ownedJob("ok-2", "Complete", T0 - 3_000),
      ownedJob("bad-1", "Failed", T0 - 2_000),
      ownedJob("bad-2", "Failed", T0 - 1_000),
    ];
    const plan = planCronJob(cronJob({ successfulJobsHistoryLimit: 1 }), jobs, T0);
    expect(plan.delete.map((j) => (j.metadata as JsonObject).name)).toEqual(["ok-1", "bad-1"]);
    expect(plan.status.lastSuccessfulTime).toBe(iso(T0 - 3_000));
  });
});
