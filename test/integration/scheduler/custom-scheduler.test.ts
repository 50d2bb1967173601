/**
 * Custom schedulers side by side (the book's "multiple schedulers"): a 3-server cluster with its
 * built-in default scheduler, plus `bosun scheduler --config` of examples/custom-scheduler (its
 * own process, its own Lease) with the out-of-tree Coscheduling plugin. Pods naming
 * `gang-scheduler` are placed by it and every other pod by default-scheduler; a gang of three
 * binds only once all three exist (its first two wait at Permit, time out and retry).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { exited } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "../workloads/workload-harness.ts";

const EXAMPLE = resolve(import.meta.dirname, "../../../examples/custom-scheduler");

let cluster: LocalCluster;
let scheduler: ChildProcess | null = null;
let schedulerOut = "";

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
  // the example's configuration, with a short Permit wait so the gang's timeout comes quickly
  const config = readFileSync(join(EXAMPLE, "scheduler-config.yaml"), "utf8").replace(
    "permitWaitingTimeSeconds: 10",
    "permitWaitingTimeSeconds: 2",
  );
  const configFile = join(cluster.runDir, "gang-scheduler.yaml");
  writeFileSync(configFile, config);
  scheduler = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      BOSUN_TS,
      "scheduler",
      "--run-dir",
      cluster.runDir,
      "--config",
      configFile,
      "--plugin",
      join(EXAMPLE, "coscheduling.ts"),
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  scheduler.stdout?.on("data", (d: Buffer) => {
    schedulerOut += d.toString();
  });
  scheduler.stderr?.on("data", (d: Buffer) => {
    schedulerOut += d.toString();
  });
}, 120_000);

afterAll(async () => {
  if (scheduler && scheduler.exitCode === null) {
    scheduler.kill("SIGKILL");
    await exited(scheduler);
  }
  await cluster?.stop();
});

function podYaml(name: string, schedulerName?: string, labels: Record<string, string> = {}) {
  const labelLines = Object.entries({ test: "custom-scheduler", ...labels })
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join("\n");
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels:
${labelLines}
spec:
${schedulerName ? `  schedulerName: ${schedulerName}\n` : ""}  containers:
  - name: c
    image: bosun/pause
`;
}

async function nodeOf(name: string): Promise<string> {
  return kubectlOk(cluster, ["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"]);
}

/** The components that wrote a `reason` Event about pod `name`. */
async function reporters(name: string, reason: string): Promise<string[]> {
  const out = await kubectlOk(cluster, [
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${name},reason=${reason}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out).items as { source?: { component?: string }; message?: string }[]).map(
    (e) => `${e.source?.component}: ${e.message}`,
  );
}

it("pods naming gang-scheduler go to the second scheduler process, the rest to default-scheduler", async () => {
  await waitForReadyNodes(cluster, 3);
  await waitFor(
    "the custom scheduler to lead",
    () => schedulerOut.includes('"leading":true'),
    60_000,
  );
  expect(
    await kubectlOk(cluster, [
      "-n",
      "kube-system",
      "get",
      "lease",
      "gang-scheduler",
      "-o",
      "jsonpath={.spec.holderIdentity}",
    ]),
  ).toMatch(/^client-/);

  await kubectlOk(cluster, ["apply", "-f", "-"], podYaml("plain"));
  await kubectlOk(cluster, ["apply", "-f", "-"], podYaml("custom", "gang-scheduler"));
  await waitFor("both pods bound", async () => (await nodeOf("plain")) && (await nodeOf("custom")));
  const custom = await waitFor("custom's Scheduled event", async () => {
    const r = await reporters("custom", "Scheduled");
    return r.length > 0 ? r : undefined;
  });
  expect(custom.every((r) => r.startsWith("gang-scheduler: Successfully assigned"))).toBe(true);
  const plain = await waitFor("plain's Scheduled event", async () => {
    const r = await reporters("plain", "Scheduled");
    return r.length > 0 ? r : undefined;
  });
  expect(plain.every((r) => r.startsWith("default-scheduler: "))).toBe(true);
}, 180_000);

it("a gang of three: two members wait at Permit and give up together; the third brings all three", async () => {
  const gang = { "bosun.dev/pod-group": "trio", "bosun.dev/pod-group-min-available": "3" };
  await kubectlOk(cluster, ["apply", "-f", "-"], podYaml("trio-1", "gang-scheduler", gang));
  await kubectlOk(cluster, ["apply", "-f", "-"], podYaml("trio-2", "gang-scheduler", gang));
  // the Permit timeout rejects them (no binding), reported as FailedScheduling
  const rejected = await waitFor(
    "trio-1 rejected at Permit",
    async () => {
      const r = await reporters("trio-1", "FailedScheduling");
      return r.length > 0 ? r : undefined;
    },
    60_000,
  );
  expect(rejected.join("\n")).toMatch(/gang-scheduler: .*(timeout|gave up)/);
  expect(await nodeOf("trio-1")).toBe("");
  expect(await nodeOf("trio-2")).toBe("");

  await kubectlOk(cluster, ["apply", "-f", "-"], podYaml("trio-3", "gang-scheduler", gang));
  await waitFor(
    "all three bound",
    async () =>
      (await Promise.all(["trio-1", "trio-2", "trio-3"].map(nodeOf))).every((n) => n !== ""),
    60_000,
  );
  for (const name of ["trio-1", "trio-2", "trio-3"])
    expect((await reporters(name, "Scheduled")).join("\n")).toMatch(/^gang-scheduler: /);
}, 180_000);
