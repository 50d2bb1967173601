import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { SYSTEM_NAMESPACES } from "../../../actors/api/well-known.ts";
import {
  ApiClient,
  ApiOutcomeUnknownError,
  apiStatusOf,
} from "../../../actors/client/api-client.ts";
import {
  currentBootId,
  isSameProcess,
  readProcStat,
} from "../../../actors/kubelet/process-identity.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { ClusterUnderTest } from "../../../cmd/chaos/cluster-under-test.ts";
import { FaultInjector } from "../../../cmd/chaos/fault-injector.ts";
import { ClientNode, meshCaOption } from "../../../cmd/client-node.ts";
import { type ClusterFile, readClusterFile } from "../../../cmd/cluster-file.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import { isReady } from "../../../cmd/node-client.ts";
import { findPodProcesses, type PodProcess } from "../../../cmd/pod-processes.ts";
import { planCluster } from "../../../cmd/up.ts";
import { randomLoopbackBase } from "../../support/loopback.ts";
import { exited, expectNoProcessesUnder, killProcessesUnder } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * A chaos run leaves no process behind, whatever it killed (#22). The nodes of a chaos cluster
 * run kubelets; a pod runs on each node; a node is SIGKILLed and its pods live on, re-parented
 * to init. Then:
 * - the harness's normal end (ClusterUnderTest.stop: the nodes, then the pods their kubelets
 *   recorded) stops them;
 * - `bosun chaos failover` interrupted (SIGTERM, as Ctrl-C) in the middle of its rounds of
 *   leader kills SIGKILLs every node and every pod process on its way out.
 * After each, /proc holds no process of the run dir.
 */
const clock = new SystemClock();
const silent = pino({ level: "silent" });
let runDir: string | null = null;
let harness: ClusterUnderTest | null = null;
let chaos: ChildProcess | null = null;
let client: ClientNode | null = null;
let api: ApiClient | null = null;

afterEach(async () => {
  api?.close();
  api = null;
  await client?.close().catch(() => undefined);
  client = null;
  if (chaos && chaos.exitCode === null && chaos.signalCode === null) {
    chaos.kill("SIGTERM"); // the command kills its nodes and their pods on SIGTERM
    await exited(chaos);
  }
  chaos = null;
  harness?.killAll();
  harness = null;
  if (runDir) {
    killProcessesUnder(runDir); // after a failure above: nothing may outlive the test
    rmSync(runDir, { recursive: true, force: true });
    runDir = null;
  }
});

function running(pod: PodProcess): boolean {
  return isSameProcess(pod.record, readProcStat(pod.record.pid), currentBootId());
}

function podProcessesOf(cluster: ClusterFile, nodeId: string): PodProcess[] {
  const node = cluster.nodes.find((n) => n.id === nodeId);
  return node ? findPodProcesses([{ nodeId, dataDir: node.dataDir }]) : [];
}

/** A client member with the internal API (a chaos cluster serves no HTTPS API). */
async function connectApi(cluster: ClusterFile, dir: string): Promise<ApiClient> {
  client = await ClientNode.connect({
    servers: Object.fromEntries(cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`])),
    token: cluster.token,
    clock,
    logger: silent,
    meshTls: cluster.meshTls === true,
    // the run dir's CA signs this client a server certificate: an agent's may not create namespaces
    ...meshCaOption(dir),
  });
  await client.waitConnected(cluster.nodes.length);
  const connected = client;
  api = new ApiClient({ system: connected.system, servers: () => cluster.nodes.map((n) => n.id) });
  return api;
}

/** Creates `object` unless it exists (a create retried across a failover may find its own). */
async function createOnce(
  apiClient: ApiClient,
  resource: string,
  object: JsonObject,
  namespace?: string,
): Promise<void> {
  // the chaos run kills the leader meanwhile: a create whose server died has an unknown
  // outcome, and is sent again (a 409 then means the first one was applied)
  for (let attempt = 1; ; attempt++) {
    try {
      await apiClient.create(resource, object, namespace ? { namespace } : {});
      return;
    } catch (error) {
      if (error instanceof ApiOutcomeUnknownError && attempt < 10) continue;
      if (apiStatusOf(error).code !== 409) throw error;
      return;
    }
  }
}

/** One echo pod bound to each node; resolves once every node runs its pod's process. */
async function podOnEveryNode(cluster: ClusterFile, apiClient: ApiClient): Promise<void> {
  const ids = cluster.nodes.map((n) => n.id);
  // the HTTPS API server creates these; a chaos cluster runs none (only the internal API)
  for (const name of SYSTEM_NAMESPACES)
    await createOnce(apiClient, "namespaces", { metadata: { name } });
  for (const id of ids) {
    await createOnce(
      apiClient,
      "pods",
      {
        metadata: { name: `echo-${id}` },
        spec: { nodeName: id, containers: [{ name: "echo", image: "bosun/echo" }] },
      },
      "default",
    );
  }
  await waitFor(
    "a pod process on every node",
    () => ids.every((id) => podProcessesOf(cluster, id).length > 0),
    60_000,
  );
}

it("the harness's stop ends the pods of a node it killed", async () => {
  runDir = mkdtempSync(join(tmpdir(), "bosun-chaos-pods-"));
  const plan = planCluster(
    {
      servers: "3",
      baseIp: randomLoopbackBase(3),
      port: "7100",
      runDir,
      faults: false,
      foreground: false,
      timeoutMs: "60000",
      name: "bosun-chaos",
    },
    runDir,
  );
  harness = new ClusterUnderTest(plan, runDir, clock);
  harness.start();
  await harness.waitReady(60_000);
  await podOnEveryNode(plan, await connectApi(plan, runDir));

  const victim = "n2";
  const orphans = podProcessesOf(plan, victim);
  new FaultInjector(harness).inject("kill", victim);
  await waitFor(`${victim} to exit`, () => !harness?.liveIds().includes(victim));
  for (const pod of orphans) expect(running(pod), `pid ${pod.record.pid}`).toBe(true);

  api?.close();
  api = null;
  await client?.close();
  client = null;
  await harness.stop();
  for (const pod of orphans) expect(running(pod), `pid ${pod.record.pid}`).toBe(false);
  await expectNoProcessesUnder(runDir);
});

it("bosun chaos failover interrupted mid-run kills every node and every pod", async () => {
  runDir = mkdtempSync(join(tmpdir(), "bosun-chaos-pods-"));
  const clusterDir = join(runDir, "cluster");
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      BOSUN_TS,
      "chaos",
      "failover",
      "--run-dir",
      clusterDir,
      "--rounds",
      "1000",
      "--fault",
      "kill",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  chaos = proc;
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  // the command's cluster file names its nodes once it started them
  const cluster = await waitFor(
    "the chaos cluster to be ready",
    async () => {
      if (proc.exitCode !== null) throw new Error(`chaos exited early:\n${out}`);
      if (!existsSync(join(clusterDir, "cluster.json"))) return undefined;
      const file = readClusterFile(clusterDir);
      if (file.nodes.some((n) => n.pid === null)) return undefined;
      const states = await Promise.all(file.nodes.map((n) => isReady(n)));
      return states.every((s) => s.ready) ? file : undefined;
    },
    60_000,
  );
  // the leader is killed and restarted round after round meanwhile; the API retries
  await podOnEveryNode(cluster, await connectApi(cluster, clusterDir));
  // one more round: a leader running a pod is killed, restarted, and re-adopts it
  const rounds = () => out.match(/^round \d+:/gm)?.length ?? 0;
  const before = rounds();
  await waitFor("a round with pods on every node", () => rounds() > before, 60_000);
  // (a pod whose node stayed down past the node monitor's grace period may have been evicted)
  const pods = cluster.nodes.flatMap((n) => podProcessesOf(cluster, n.id));
  expect(pods.length).toBeGreaterThan(0);

  api?.close();
  api = null;
  await client?.close();
  client = null;
  proc.kill("SIGTERM");
  await exited(proc);
  expect(proc.exitCode, out).toBe(130);
  for (const pod of pods) expect(running(pod), `pid ${pod.record.pid}`).toBe(false);
  await expectNoProcessesUnder(clusterDir);
});
