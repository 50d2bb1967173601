/**
 * Deadlines end to end with the real kubectl on a 3-server cluster (pods are real processes):
 * a pod past its activeDeadlineSeconds fails with DeadlineExceeded; `kubectl create job` and
 * `kubectl wait --for=condition=complete`; a Job whose pods fail stops at backoffLimit; a
 * CronJob on a fast schedule with concurrencyPolicy Forbid never runs two Jobs at once;
 * `kubectl create priorityclass` and `kubectl create pdb` (protobuf bodies) work.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { startWorkloadCluster } from "./workload-harness.ts";

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startWorkloadCluster();
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const get = (args: string[]) => kubectlOk(cluster, ["get", ...args]);

it("a pod active past its activeDeadlineSeconds is Failed with reason DeadlineExceeded", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `apiVersion: v1
kind: Pod
metadata: {name: bounded}
spec:
  activeDeadlineSeconds: 2
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [sh, -c, "sleep 60"]}]
`,
  );
  await waitFor(
    "bounded to fail on its deadline",
    async () =>
      (await get(["pod", "bounded", "-o", "jsonpath={.status.phase}/{.status.reason}"])) ===
      "Failed/DeadlineExceeded",
    60_000,
  );
}, 90_000);

it("kubectl create job, then kubectl wait --for=condition=complete", async () => {
  await kubectlOk(cluster, [
    "create",
    "job",
    "once",
    "--image=busybox",
    "--",
    "sh",
    "-c",
    "exit 0",
  ]);
  await kubectlOk(cluster, ["wait", "--for=condition=complete", "job/once", "--timeout=60s"]);
  expect(await get(["job", "once", "-o", "jsonpath={.status.succeeded}"])).toBe("1");
  const table = await get(["job", "once"]);
  expect(table).toMatch(/once\s+Complete\s+1\/1/);
}, 90_000);

it("a Job whose pods fail stops after backoffLimit + 1 failed pods", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: [sh, -c, "exit 3"]}]
`,
  );
  await kubectlOk(cluster, ["wait", "--for=condition=failed", "job/flaky", "--timeout=60s"]);
  expect(
    await get(["job", "flaky", "-o", 'jsonpath={.status.conditions[?(@.type=="Failed")].reason}']),
  ).toBe("BackoffLimitExceeded");
  const pods = (
    await get(["pods", "-l", "job-name=flaky", "-o", "jsonpath={.items[*].status.phase}"])
  )
    .split(" ")
    .filter(Boolean);
  expect(pods).toEqual(["Failed", "Failed", "Failed"]);
}, 90_000);

it("a CronJob every 2 s running 4 s Jobs with concurrencyPolicy Forbid never overlaps them", async () => {
  // the protobuf body of `kubectl create cronjob` decodes and validates (dry run)
  expect(
    await kubectlOk(cluster, [
      "create",
      "cronjob",
      "check",
      "--image=busybox",
      "--schedule=*/5 * * * *",
      "--dry-run=server",
      "-o",
      "name",
    ]).then((out) => out.trim()),
  ).toBe("cronjob.batch/check");
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "@every 2s"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 10
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [sh, -c, "sleep 4"]}]
`,
  );
  type Job = {
    metadata: { name: string; creationTimestamp: string };
    status: { completionTime?: string };
  };
  const jobs = await waitFor(
    "three runs of tick, two of them finished",
    async () => {
      const items = (JSON.parse(await get(["jobs", "-o", "json"])).items as Job[]).filter((j) =>
        j.metadata.name.startsWith("tick-"),
      );
      return items.filter((j) => j.status.completionTime).length >= 2 && items.length >= 3
        ? items
        : undefined;
    },
    90_000,
  );
  await kubectlOk(cluster, ["patch", "cronjob", "tick", "-p", '{"spec":{"suspend":true}}']);
  const byCreation = [...jobs].sort((a, b) =>
    a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp),
  );
  for (let i = 1; i < byCreation.length; i++) {
    const previous = byCreation[i - 1] as Job;
    // Forbid: a run starts only once the one before it has finished
    expect(previous.status.completionTime).toBeDefined();
    expect(Date.parse((byCreation[i] as Job).metadata.creationTimestamp)).toBeGreaterThanOrEqual(
      Date.parse(previous.status.completionTime as string),
    );
  }
  expect(await get(["cronjob", "tick", "-o", "jsonpath={.spec.schedule}"])).toBe("@every 2s");
}, 150_000);

it("kubectl create priorityclass and poddisruptionbudget (protobuf bodies) work", async () => {
  await kubectlOk(cluster, [
    "create",
    "priorityclass",
    "urgent",
    "--value=1000",
    "--description=now",
  ]);
  expect(await get(["pc", "urgent", "-o", "jsonpath={.value}/{.preemptionPolicy}"])).toBe(
    "1000/PreemptLowerPriority",
  );
  await kubectlOk(cluster, ["create", "pdb", "keep", "--selector=app=web", "--min-available=1"]);
  expect(await get(["pdb", "keep", "-o", "jsonpath={.spec.minAvailable}"])).toBe("1");
  expect(await get(["pc"])).toMatch(/system-node-critical\s+2000001000\s+false/);
}, 60_000);
