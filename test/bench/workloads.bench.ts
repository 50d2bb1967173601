/**
 * `npm run bench:workloads [-- --quick] [--only a,b,c,p] [--scheduler-perf] [--runtime dist|tsx]
 * [--json FILE] …`: the workloads side of
 * bosun measured as Kubernetes measures its own (the density test, scheduler_perf, kubemark),
 * through the real API over HTTPS:
 *
 * (a) Pod startup latency: pods created at a steady rate (`--rate`, default 10/s, as the density
 *     test does) on a 3-server cluster whose servers are nodes running real processes
 *     (bosun/pause); latency from the create request to `status.phase: Running` seen on a watch.
 *     Kubernetes' SLO: p99 ≤ 5 s; bosun's target: p99 ≤ 1 s.
 * (b) Scheduler throughput: `--hollow-nodes` hollow nodes (`bosun hollow-nodes`) and
 *     `--sched-pods` pods through the real API server and the cluster's own (Lease-elected)
 *     scheduler. The pods are created while the bench holds the scheduler's Lease (no scheduler
 *     runs), then the Lease is released: the elected scheduler starts with the whole backlog,
 *     and binds (spec.nodeName on a watch) are counted from the first to the last. Target
 *     ≥ 1,000 pods/s; kube-scheduler's CI floor is 680 pods/s. The in-process figure
 *     (scheduler.bench.ts: queue + framework, no API) is printed beside it. Like kubemark, the
 *     hollow kubelets renew their Leases at Kubernetes' pace (every 10 s) and the cluster runs
 *     with Kubernetes' `--node-monitor-grace-period` (40 s): bosun's defaults (1 s, 4 s) for
 *     fast node failover would cost 1,000 Lease writes a second here. Likewise the controller
 *     manager and scheduler elect with Kubernetes' timings (`--leader-elect kube`: 15 s lease,
 *     10 s renew deadline, 2 s retry): on two cores shared by three servers and a thousand
 *     hollow kubelets a write can take over a second, and bosun's 700 ms renew deadline (kept
 *     for (c)'s sub-second failover) would make the leaders step down and relist over and over.
 * (p) scheduler_perf's SchedulingBasic (`--scheduler-perf`): API servers, store and scheduler
 *     only: the servers run no kubelet, the bench holds the controller manager's Lease, and the
 *     `--hollow-nodes` nodes are Node objects the bench creates Ready (scheduler_perf's node
 *     template: 4 CPUs, 32 GiB, 110 pods) and nobody updates. `--sched-pods` pods are created and
 *     bound as in (b); pods/s and, for (b) and (p), CPU ms per bound pod of every process (the
 *     servers, the hollow-nodes process, the bench) from /proc, from the release to the last bind.
 * (c) Failover: SIGKILL the server holding the kube-controller-manager Lease (odd rounds) or the
 *     kube-scheduler Lease (even rounds), create a Deployment at once, and time the Leases'
 *     takeover (holderIdentity changes) and the Deployment being acted on (ReplicaSet, Pod,
 *     binding). The killed server is restarted between rounds.
 *
 * Beside each figure: how many leaderships the controller manager and the scheduler began in
 * the window (from the servers' logs) — under load a leader that misses its renew deadline steps
 * down and starts again, relisting everything, which no Lease field shows. During (b) the bench
 * compacts the store's history every `--compact-every-s`, as kube-apiserver does and bosun's
 * API server does not yet (without it, 1,000 hollow nodes' Lease writes push a store snapshot
 * past its size limit within minutes and the servers stop).
 *
 * Every process the bench starts (clusters, the hollow nodes, the pods' processes) is stopped
 * in `finally` and on SIGINT/SIGTERM; a server that dies on its own fails the part at once.
 * Figures (partial ones too, after a failure) go to bench-results/workloads.json.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { microTime, rfc3339 } from "../../actors/api/meta-time.ts";
import { DEFAULT_LEADER_ELECTION_TIMINGS } from "../../actors/client/leader-election.ts";
import { HOLLOW_NODE_LABEL } from "../../actors/kubelet/hollow-nodes.ts";
import { SystemClock, sleep } from "../../actors/system/clock.ts";
import { buildBundle } from "../../cmd/build.ts";
import { isBosunNode } from "../../cmd/launcher.ts";
import { bosunArgv } from "../../cmd/node-runtime.ts";
import { type ApiObject, type Endpoint, HttpsApi, readCredentials } from "../support/https-api.ts";
import { LocalCluster } from "../support/local-cluster.ts";
import { waitFor } from "../support/wait.ts";
import { processCpuMs } from "./proc-usage.ts";
import { inProcessSchedulerThroughput } from "./scheduler.bench.ts";
import { summarize } from "./stats.ts";

interface Options {
  quick: boolean;
  only?: string;
  schedulerPerf: boolean;
  runtime: string;
  pods?: string;
  rate: string;
  hollowNodes?: string;
  schedPods?: string;
  hollowLeaseRenewMs: string;
  nodeMonitorGracePeriod: string;
  leaderElect: string;
  createConcurrency: string;
  bindTimeoutS?: string;
  compactEveryS: string;
  failoverRounds?: string;
  json: string;
}

/** Kubernetes' pod startup SLO (p99, stateless pods, image already present). */
const STARTUP_SLO_P99_MS = 5_000;
/** bosun's own target for pod startup p99. */
const STARTUP_TARGET_P99_MS = 1_000;
/** bosun's scheduler throughput target, and kube-scheduler's CI floor (scheduler_perf). */
const SCHEDULER_TARGET_PODS_PER_S = 1_000;
const SCHEDULER_CI_FLOOR_PODS_PER_S = 680;
/** bosun's failover target (DESIGN §7: "well under a second"). */
const FAILOVER_TARGET_MS = 1_000;

/** While the bench holds the scheduler Lease it renews as often as a leader would. */
const LEASE_HOLD_RENEW_MS = DEFAULT_LEADER_ELECTION_TIMINGS.renewIntervalMs;
/**
 * Long enough for the scheduler that held the Lease to notice and stop: it learns at its next
 * renewal, one retry period away (bosun's 200 ms, Kubernetes' 2 s), plus that write's latency.
 */
const LEASE_HOLD_SETTLE_MS = {
  bosun: DEFAULT_LEADER_ELECTION_TIMINGS.leaseDurationMs * 2,
  kube: 5_000,
};
const BENCH_LEASE_HOLDER = "workloads-bench";
const SCHEDULER_LEASE = "kube-scheduler";
const CONTROLLER_MANAGER_LEASE = "kube-controller-manager";
/** Per-pod allowance when waiting for a phase to finish (plus a floor). */
const WAIT_PER_POD_MS = 100;
const WAIT_FLOOR_MS = 60_000;
/** How often a wait looks again. */
const WAIT_POLL_MS = 50;
/** A pod create is retried (5xx, no answer) for this long, then the part fails. */
const CREATE_RETRY_MS = 30_000;
const CREATE_RETRY_PAUSE_MS = 50;
/** How long a stopping hollow-nodes process gets before SIGKILL. */
const HOLLOW_STOP_MS = 8_000;
/** One failover round gives up after this. */
const FAILOVER_ROUND_TIMEOUT_MS = 60_000;

const clock = new SystemClock();
const now = () => clock.nowMs();

// ---- shared plumbing -------------------------------------------------------------------------

/** Everything to stop, whatever happens. */
class Cleanup {
  private readonly clusters = new Set<LocalCluster>();
  private readonly children = new Set<ChildProcess>();
  private readonly streams = new Set<() => void>();

  cluster(c: LocalCluster): LocalCluster {
    this.clusters.add(c);
    return c;
  }
  child(c: ChildProcess): ChildProcess {
    this.children.add(c);
    return c;
  }
  stream(stop: () => void): () => void {
    this.streams.add(stop);
    return stop;
  }

  async stopChild(child: ChildProcess): Promise<void> {
    this.children.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killed = await Promise.race([
      exited.then(() => false),
      sleep(clock, HOLLOW_STOP_MS).then(() => true),
    ]);
    if (killed) {
      child.kill("SIGKILL");
      await exited;
    }
  }

  async stopCluster(c: LocalCluster): Promise<void> {
    this.clusters.delete(c);
    await c.stop();
  }

  async all(): Promise<void> {
    for (const stop of this.streams) stop();
    this.streams.clear();
    await Promise.all([...this.children].map((c) => this.stopChild(c).catch(() => {})));
    await Promise.all([...this.clusters].map((c) => this.stopCluster(c).catch(() => {})));
  }
}

/** The API of a cluster over HTTPS, with the endpoint of each server by node id. */
class ClusterApi {
  readonly https: HttpsApi;
  readonly watchAgent: Agent;

  constructor(readonly cluster: LocalCluster) {
    const creds = readCredentials(cluster.runDir);
    this.https = new HttpsApi(creds, 64);
    this.watchAgent = new Agent({ ca: creds.ca, keepAlive: true, maxSockets: Infinity });
  }

  endpointOf(nodeId: string): Endpoint {
    const host = this.cluster.node(nodeId).host;
    const ep = this.https.endpoints.find((e) => e.url.hostname === host);
    if (!ep) throw new Error(`no API endpoint for ${nodeId}`);
    return ep;
  }

  async call(
    ep: Endpoint,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ code: number; body: Record<string, unknown> }> {
    return this.https.call(ep, method, path, body);
  }

  /** A call that must succeed: retried on transport errors and 5xx until `timeoutMs`. */
  async must(
    ep: Endpoint,
    method: string,
    path: string,
    body: unknown,
    ok: number[],
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      `${method} ${path}`,
      async () => {
        const r = await this.call(ep, method, path, body);
        if (ok.includes(r.code)) return r.body;
        if (r.code >= 500 || r.code === 429) return undefined;
        throw new Error(`${method} ${path}: ${r.code} ${JSON.stringify(r.body).slice(0, 300)}`);
      },
      timeoutMs,
      50,
    );
  }

  async listVersion(ep: Endpoint, path: string): Promise<string> {
    const body = await this.must(ep, "GET", path, undefined, [200]);
    return String((body.metadata as { resourceVersion?: string }).resourceVersion ?? "");
  }

  /**
   * A watch from the collection's current resourceVersion that, as an informer does, watches
   * again from the last version it saw when the server ends it (a watcher that fell behind is
   * dropped, as kube-apiserver's cacher drops it), or relists after a 410 (every listed object
   * is handed over as ADDED).
   */
  async watch(
    ep: Endpoint,
    path: string,
    cleanup: Cleanup,
    onEvent: (type: string, object: ApiObject) => void,
  ): Promise<() => void> {
    let rv = await this.listVersion(ep, path);
    const sep = path.includes("?") ? "&" : "?";
    let stopped = false;
    let gone = false;
    let stopStream = () => {};
    const start = async (): Promise<void> => {
      if (gone) {
        gone = false;
        const list = await this.must(ep, "GET", path, undefined, [200]);
        for (const item of (list.items ?? []) as ApiObject[]) onEvent("ADDED", item);
        rv = String((list.metadata as { resourceVersion?: string }).resourceVersion ?? "");
      }
      const stream = this.https.watch(
        ep,
        this.watchAgent,
        `${path}${sep}watch=true&resourceVersion=${rv}`,
        (e) => {
          if (e.type === "ERROR") {
            gone = true;
            return;
          }
          const version = e.object.metadata.resourceVersion;
          if (typeof version === "string") rv = version;
          onEvent(e.type, e.object);
        },
        () => {
          if (stopped) return;
          this.rewatches++;
          start().catch(() => {});
        },
      );
      stopStream = stream.stop;
      await stream.ready;
    };
    await start();
    return cleanup.stream(() => {
      stopped = true;
      stopStream();
    });
  }

  /** Watches the server ended that `watch` started again. */
  rewatches = 0;

  close(): void {
    this.https.close();
    this.watchAgent.destroy();
  }
}

function nodeNameOf(o: ApiObject): string {
  return String((o.spec as { nodeName?: string } | undefined)?.nodeName ?? "");
}
function phaseOf(o: ApiObject): string {
  return String((o.status as { phase?: string } | undefined)?.phase ?? "");
}

async function ensureNamespace(api: ClusterApi, name: string): Promise<void> {
  await api.must(
    api.https.endpoint(0),
    "POST",
    "/api/v1/namespaces",
    { metadata: { name } },
    [201, 409],
  );
}

async function waitForNodes(
  api: ClusterApi,
  what: string,
  count: number,
  selector: string,
  timeoutMs: number,
): Promise<void> {
  const path = `/api/v1/nodes${selector ? `?labelSelector=${encodeURIComponent(selector)}` : ""}`;
  await waitFor(
    what,
    async () => {
      const r = await api.call(api.https.endpoint(0), "GET", path);
      if (r.code !== 200) return false;
      const ready = (r.body.items as ApiObject[]).filter((n) =>
        ((n.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some(
          (c) => c.type === "Ready" && c.status === "True",
        ),
      );
      return ready.length >= count;
    },
    timeoutMs,
    500,
  );
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** Leaderships begun in a wall-clock window, counted from the servers' logs. */
interface LeadershipStarts {
  controllerManager: number;
  scheduler: number;
}

/**
 * Under load a leader can miss its renew deadline and step down, then win its own Lease back: a
 * restart of the controllers or the scheduler (informers relisting) that no Lease field shows.
 * The servers log every start; count them.
 */
function leadershipStarts(
  cluster: LocalCluster,
  fromWallMs: number,
  toWallMs: number,
): LeadershipStarts {
  const starts: LeadershipStarts = { controllerManager: 0, scheduler: 0 };
  for (const node of cluster.cluster.nodes) {
    let text = "";
    try {
      text = readFileSync(node.logFile, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const controllers = line.includes('"msg":"controllers started"');
      const scheduler = line.includes('"msg":"scheduler started leading"');
      if (!controllers && !scheduler) continue;
      const time = Number(/"time":(\d+)/.exec(line)?.[1]);
      if (!(time >= fromWallMs && time <= toWallMs)) continue;
      if (controllers) starts.controllerManager++;
      else starts.scheduler++;
    }
  }
  return starts;
}

/**
 * Runs `body` for each of `items` with at most `concurrency` at once; after a failure no new
 * item starts, and the first error is thrown.
 */
async function pooled<T>(
  items: T[],
  concurrency: number,
  body: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length && !failed; i = next++) {
        try {
          await body(items[i] as T, i);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
}

/** Like waitFor, but `alive` throws straight through (a dead cluster is not worth waiting on). */
async function waitWhileAlive<T>(
  what: string,
  alive: () => void,
  probe: () => T | undefined | false,
  timeoutMs: number,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (;;) {
    alive();
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(clock, WAIT_POLL_MS);
  }
}

/**
 * Throws when a server of the cluster has stopped that the bench did not kill, quoting its last
 * fatal log line: a dead cluster ends the part at once instead of timing out pod by pod.
 */
function assertServersAlive(cluster: LocalCluster, killedByUs: ReadonlySet<string>): void {
  for (const node of cluster.cluster.nodes) {
    if (killedByUs.has(node.id) || (node.pid !== null && isBosunNode(node.pid))) continue;
    let fatal = "";
    try {
      const lines = readFileSync(node.logFile, "utf8").split("\n");
      fatal = lines.filter((l) => l.includes('"level":60')).at(-1) ?? lines.at(-2) ?? "";
    } catch {
      // no log
    }
    const message = /"error":"([^"]*)"/.exec(fatal)?.[1] ?? fatal.slice(0, 300);
    throw new Error(`server ${node.id} stopped during the run: ${message}`);
  }
}

/**
 * kube-apiserver compacts etcd's history every 5 minutes; bosun's API server does not compact
 * the store yet, and a 1,000-node cluster writes enough history in minutes to push a store
 * snapshot past its limit, which stops the servers. While a part runs, this compacts the store
 * every `periodMs` to the revision it saw one period earlier, as kube-apiserver would.
 */
async function startCompactor(
  cluster: LocalCluster,
  api: ClusterApi,
  periodMs: number,
): Promise<{ compactions: () => number; stop: () => void }> {
  const client = cluster.client ?? (await cluster.connectClient());
  const store = client.storeClient();
  let compactions = 0;
  let stopped = false;
  let previous = 0;
  const revision = async () =>
    Number(await api.listVersion(api.https.endpoint(0), "/api/v1/namespaces/default/configmaps"));
  void (async () => {
    while (!stopped) {
      await sleep(clock, periodMs);
      if (stopped) return;
      try {
        const current = await revision();
        if (previous > 0) {
          await store.write({ op: "compact", revision: previous });
          compactions++;
        }
        previous = current;
      } catch {
        // a busy or electing store: the next period tries again
      }
    }
  })();
  return { compactions: () => compactions, stop: () => (stopped = true) };
}

// ---- (a) pod startup latency -----------------------------------------------------------------

interface StartupFigures {
  pods: number;
  ratePerSecond: number;
  running: number;
  createErrors: number;
  createToBoundMs: ReturnType<typeof summarize>;
  createToRunningMs: ReturnType<typeof summarize>;
  sloP99Ms: number;
  targetP99Ms: number;
  leadershipStarts: LeadershipStarts;
  load: string;
}

async function podStartup(
  api: ClusterApi,
  cleanup: Cleanup,
  pods: number,
  rate: number,
): Promise<StartupFigures> {
  const ns = "bench-startup";
  const fromWallMs = clock.wallMs();
  await ensureNamespace(api, ns);
  const sent = new Map<string, number>();
  const bound = new Map<string, number>();
  const running = new Map<string, number>();
  const collection = `/api/v1/namespaces/${ns}/pods`;
  const stopWatch = await api.watch(api.https.endpoint(0), collection, cleanup, (type, pod) => {
    const name = pod.metadata.name;
    if (type !== "ADDED" && type !== "MODIFIED") return;
    const t = now();
    if (nodeNameOf(pod) && !bound.has(name)) bound.set(name, t);
    if (phaseOf(pod) === "Running" && !running.has(name)) running.set(name, t);
  });
  let createErrors = 0;
  const startMs = now();
  const creates: Promise<void>[] = [];
  for (let i = 0; i < pods; i++) {
    const dueMs = startMs + (i * 1000) / rate;
    if (dueMs > now()) await sleep(clock, dueMs - now());
    const name = `startup-${i}`;
    sent.set(name, now());
    creates.push(
      api.https
        .call(api.https.endpoint(i), "POST", collection, {
          metadata: { name, labels: { bench: "startup" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "pause",
                image: "bosun/pause",
                resources: { requests: { cpu: "10m", memory: "16Mi" } },
              },
            ],
          },
        })
        .then(
          (r) => {
            if (r.code !== 201) createErrors++;
          },
          () => {
            createErrors++;
          },
        ),
    );
  }
  await Promise.all(creates);
  await waitFor(
    `${pods} pods Running`,
    () => running.size >= pods - createErrors,
    Math.max(WAIT_FLOOR_MS, pods * WAIT_PER_POD_MS),
    50,
  ).catch((error: Error) => console.log(`  (a) ${error.message}`));
  stopWatch();
  const latency = (seen: Map<string, number>) =>
    [...seen].map(([name, t]) => t - (sent.get(name) ?? t));
  const figures: StartupFigures = {
    pods,
    ratePerSecond: rate,
    running: running.size,
    createErrors,
    createToBoundMs: summarize(latency(bound)),
    createToRunningMs: summarize(latency(running)),
    sloP99Ms: STARTUP_SLO_P99_MS,
    targetP99Ms: STARTUP_TARGET_P99_MS,
    leadershipStarts: leadershipStarts(api.cluster, fromWallMs, clock.wallMs()),
    load: load(),
  };
  // the pods' processes go before the next part
  await pooled([...sent.keys()], 10, async (name) => {
    await api.https
      .call(api.https.endpoint(0), "DELETE", `${collection}/${name}`, { gracePeriodSeconds: 1 })
      .catch(() => undefined);
  });
  await waitFor(
    "the startup pods to go",
    async () => {
      const r = await api.call(api.https.endpoint(0), "GET", collection);
      return r.code === 200 && (r.body.items as unknown[]).length === 0;
    },
    60_000,
    500,
  ).catch(() => console.log("  (a) some startup pods were still terminating"));
  return figures;
}

// ---- (b) scheduler throughput ----------------------------------------------------------------

interface SchedulerFigures {
  /** Hollow kubelets (part b) or static nodes nobody updates (part p, scheduler_perf's). */
  nodes: SchedulerNodes;
  hollowNodes: number;
  hollowLeaseRenewMs: number;
  hollowRegisterMs: number;
  pods: number;
  createMs: number;
  boundBeforeRelease: number;
  bound: number;
  running: number;
  releaseToFirstBindMs: number;
  firstToLastBindMs: number;
  podsPerSecond: number;
  podsPerSecondFromRelease: number;
  /** Pods/s in each whole second from the first bind: how steady the rate was. */
  perSecond: ReturnType<typeof summarize>;
  releaseToAllRunningMs: number | null;
  /**
   * CPU ms per bound pod of each process (servers by node id, `hollow-nodes`, `bench`: the
   * bench's creates and watch) and `total`, from the release until every pod was seen bound.
   */
  cpuMsPerPod: Record<string, number>;
  targetPodsPerSecond: number;
  ciFloorPodsPerSecond: number;
  /** From the release to the last bind. */
  leadershipStarts: LeadershipStarts;
  compactEveryMs: number;
  compactions: number;
  /** The controller manager's and scheduler's election timings: "kube" or "bosun". */
  leaderElect: string;
  /** Times the server ended the bench's watch and it watched again (see ClusterApi.watch). */
  rewatches: number;
  inProcess: ReturnType<typeof inProcessSchedulerThroughput>;
  load: string;
}

/** Starts `bosun hollow-nodes` for the cluster; resolves with its registration time. */
async function startHollowNodes(
  cluster: LocalCluster,
  cleanup: Cleanup,
  count: number,
  leaseRenewMs: number,
): Promise<{ child: ChildProcess; registerMs: number }> {
  const logFile = join(cluster.runDir, "logs", "hollow-nodes.log");
  mkdirSync(dirname(logFile), { recursive: true });
  const child = cleanup.child(
    spawn(
      process.execPath,
      [
        // BOSUN_PROF_DIR profiles the hollow nodes too, as it does the servers (cmd/launcher.ts)
        ...(process.env.BOSUN_PROF_DIR
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BOSUN_PROF_DIR}`]
          : []),
        ...bosunArgv([
          "hollow-nodes",
          "--run-dir",
          cluster.runDir,
          "--count",
          String(count),
          "--lease-renew-ms",
          String(leaseRenewMs),
        ]),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    ),
  );
  const log = createWriteStream(logFile);
  child.stderr?.pipe(log);
  const registered = new Promise<number>((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (d: Buffer) => {
      log.write(d);
      buffered += d.toString("utf8");
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as { registered?: number; registerMs?: number };
          if (parsed.registered === count) resolve(parsed.registerMs ?? 0);
        } catch {
          // a log line
        }
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`hollow-nodes exited (${code}); see ${logFile}`)),
    );
  });
  const registerMs = await Promise.race([
    registered,
    sleep(clock, Math.max(WAIT_FLOOR_MS, count * WAIT_PER_POD_MS)).then(() => {
      throw new Error(`hollow nodes did not register in time; see ${logFile}`);
    }),
  ]);
  return { child, registerMs };
}

/**
 * Holds a component's Lease (the scheduler's, the controller manager's) as `workloads-bench`
 * (renewed faster than candidates expire it), so that component does not run until `release()`
 * clears the holder, or `stop()` stops renewing it (when the run is over).
 */
async function holdLease(
  api: ClusterApi,
  lease: string,
  settleMs: number,
): Promise<{ release: () => Promise<number>; stop: () => Promise<void> }> {
  const ep = api.https.endpoint(0);
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lease}`;
  const write = async (holder: string): Promise<boolean> => {
    const r = await api.call(ep, "GET", path);
    if (r.code !== 200) return false;
    const spec = (r.body.spec ?? {}) as Record<string, unknown>;
    const w = await api.call(ep, "PUT", path, {
      ...r.body,
      spec: {
        ...spec,
        holderIdentity: holder,
        leaseDurationSeconds: 1,
        renewTime: microTime(clock.wallMs()),
      },
    });
    return w.code === 200;
  };
  await waitFor(`the ${lease} Lease to exist`, () =>
    api.call(ep, "GET", path).then((r) => r.code === 200),
  );
  await waitFor(
    `the ${lease} Lease in the bench's hands`,
    () => write(BENCH_LEASE_HOLDER),
    30_000,
    20,
  );
  let holding = true;
  const renewing = (async () => {
    while (holding) {
      await sleep(clock, LEASE_HOLD_RENEW_MS);
      if (holding) await write(BENCH_LEASE_HOLDER).catch(() => false);
    }
  })();
  await sleep(clock, settleMs);
  return {
    release: async () => {
      holding = false;
      await renewing;
      await waitFor(`the ${lease} Lease released`, () => write(""), 30_000, 10);
      return now();
    },
    stop: async () => {
      holding = false;
      await renewing;
    },
  };
}

/**
 * The nodes pods are scheduled to: `kubelets`, hollow kubelets in a `bosun hollow-nodes` process
 * (registering, renewing Leases, reporting pods Running: part b), or `static`, Node objects the
 * bench creates Ready and nobody updates afterwards, on a cluster of API servers, store and
 * scheduler only (no kubelets, the controller manager's Lease held by the bench): scheduler_perf's
 * SchedulingBasic.
 */
type SchedulerNodes = "kubelets" | "static";

/** scheduler_perf's node template (test/integration/scheduler_perf/config/templates/node-default.yaml). */
const STATIC_NODE_CAPACITY = { cpu: "4", memory: "32Gi", pods: "110" };
const STATIC_NODE_PREFIX = "perf-node-";

/** Creates `count` Ready nodes through the API, as scheduler_perf's node template does. */
async function createStaticNodes(api: ClusterApi, count: number, concurrency: number) {
  const names = Array.from({ length: count }, (_, i) => `${STATIC_NODE_PREFIX}${i}`);
  await pooled(names, concurrency, async (name, i) => {
    await api.must(
      api.https.endpoint(i),
      "POST",
      "/api/v1/nodes",
      {
        metadata: {
          name,
          labels: { [HOLLOW_NODE_LABEL]: "true", "kubernetes.io/hostname": name },
        },
        spec: {},
        status: {
          capacity: STATIC_NODE_CAPACITY,
          allocatable: STATIC_NODE_CAPACITY,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "KubeletReady",
              lastHeartbeatTime: rfc3339(clock.wallMs()),
            },
          ],
          phase: "Running",
        },
      },
      [201, 409],
    );
  });
}

/** CPU milliseconds of each process named, from /proc (the bench's own from process.cpuUsage). */
function cpuSnapshot(pids: Record<string, number>): Record<string, number> {
  const own = process.cpuUsage();
  return {
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)])),
    bench: (own.user + own.system) / 1000,
  };
}

/** CPU ms per pod for each process between two snapshots, and their sum. */
function cpuPerPod(
  before: Record<string, number>,
  after: Record<string, number>,
  pods: number,
): Record<string, number> {
  const per: Record<string, number> = {};
  let total = 0;
  for (const [name, ms] of Object.entries(after)) {
    const spent = ms - (before[name] ?? Number.NaN);
    per[name] = Math.round((spent / pods) * 1000) / 1000;
    total += spent;
  }
  per.total = Math.round((total / pods) * 1000) / 1000;
  return per;
}

async function schedulerThroughput(
  cleanup: Cleanup,
  o: {
    nodes: SchedulerNodes;
    hollowNodes: number;
    pods: number;
    leaseRenewMs: number;
    nodeMonitorGracePeriod: string;
    /** --leader-elect-* flags for the cluster (empty: bosun's defaults). */
    leaderElectFlags: string[];
    createConcurrency: number;
    /** Stop waiting for binds after this and measure what was bound. */
    bindTimeoutMs: number | null;
    /** 0: no compaction. */
    compactEveryMs: number;
  },
): Promise<Omit<SchedulerFigures, "inProcess">> {
  const part = o.nodes === "static" ? "(p)" : "(b)";
  const settleMs = LEASE_HOLD_SETTLE_MS[o.leaderElectFlags.length > 0 ? "kube" : "bosun"];
  const cluster = cleanup.cluster(
    await LocalCluster.start(
      3,
      [
        "--node-monitor-grace-period",
        o.nodeMonitorGracePeriod,
        ...o.leaderElectFlags,
        ...(o.nodes === "static" ? ["--no-kubelet"] : []),
      ],
      true,
    ),
  );
  const api = new ClusterApi(cluster);
  const alive = () => assertServersAlive(cluster, new Set());
  const compactor =
    o.compactEveryMs > 0 ? await startCompactor(cluster, api, o.compactEveryMs) : null;
  let controllers: { stop: () => Promise<void> } | null = null;
  try {
    let hollow: { child: ChildProcess; registerMs: number } | null = null;
    let registerMs: number;
    if (o.nodes === "kubelets") {
      await waitForNodes(api, "3 Ready servers", 3, "", 60_000);
      console.log(`  ${part} starting ${o.hollowNodes} hollow nodes (load ${load()})`);
      hollow = await startHollowNodes(cluster, cleanup, o.hollowNodes, o.leaseRenewMs);
      registerMs = hollow.registerMs;
    } else {
      // no controller manager: nothing marks the static nodes NotReady or acts on the pods
      controllers = await holdLease(api, CONTROLLER_MANAGER_LEASE, settleMs);
      const started = now();
      await createStaticNodes(api, o.hollowNodes, o.createConcurrency);
      registerMs = Math.round(now() - started);
    }
    await waitForNodes(
      api,
      `${o.hollowNodes} Ready hollow nodes`,
      o.hollowNodes,
      `${HOLLOW_NODE_LABEL}=true`,
      120_000,
    );
    console.log(`  ${part} ${o.hollowNodes} nodes registered in ${registerMs} ms`);
    const ns = "bench-scheduler";
    await ensureNamespace(api, ns);
    const lease = await holdLease(api, SCHEDULER_LEASE, settleMs);

    const collection = `/api/v1/namespaces/${ns}/pods`;
    const names = Array.from({ length: o.pods }, (_, i) => `sched-${i}`);
    // watching before the creates: a bind by a scheduler that should not be running shows
    // (boundBeforeRelease) instead of being missed
    const bound = new Map<string, number>();
    const running = new Map<string, number>();
    let releasedAt = Number.POSITIVE_INFINITY;
    let boundBeforeRelease = 0;
    const stopWatch = await api.watch(api.https.endpoint(1), collection, cleanup, (type, pod) => {
      if (type !== "ADDED" && type !== "MODIFIED") return;
      const name = pod.metadata.name;
      const t = now();
      if (nodeNameOf(pod) && !bound.has(name)) {
        bound.set(name, t);
        if (t < releasedAt) boundBeforeRelease++;
      }
      if (phaseOf(pod) === "Running" && !running.has(name)) running.set(name, t);
    });
    const createStart = now();
    await pooled(names, o.createConcurrency, async (name, i) => {
      const body = {
        metadata: { name, labels: { bench: "scheduler" } },
        spec: {
          nodeSelector: { [HOLLOW_NODE_LABEL]: "true" },
          containers: [
            {
              name: "app",
              image: "bosun/pause",
              resources: { requests: { cpu: "100m", memory: "128Mi" } },
            },
          ],
        },
      };
      const deadline = now() + CREATE_RETRY_MS;
      for (;;) {
        alive();
        const r = await api.call(api.https.endpoint(i), "POST", collection, body).catch(() => null);
        if (r && (r.code === 201 || r.code === 409)) return;
        if (r && r.code < 500 && r.code !== 429)
          throw new Error(`create ${name}: ${r.code} ${JSON.stringify(r.body).slice(0, 200)}`);
        if (now() > deadline)
          throw new Error(`create ${name}: no success in ${CREATE_RETRY_MS} ms`);
        await sleep(clock, CREATE_RETRY_PAUSE_MS);
      }
    });
    const createMs = now() - createStart;
    console.log(`  ${part} ${o.pods} pods created in ${Math.round(createMs)} ms (load ${load()})`);
    const processes: Record<string, number> = Object.fromEntries(
      cluster.cluster.nodes.map((n) => [n.id, n.pid ?? 0]),
    );
    if (hollow?.child.pid) processes["hollow-nodes"] = hollow.child.pid;
    const cpuBefore = cpuSnapshot(processes);
    releasedAt = await lease.release();
    const releasedWallMs = clock.wallMs();
    const expected = o.pods;
    const timeoutMs = o.bindTimeoutMs ?? Math.max(WAIT_FLOOR_MS, expected * WAIT_PER_POD_MS);
    const allBound = await waitWhileAlive(
      `${expected} pods bound`,
      alive,
      () => bound.size >= expected,
      timeoutMs,
    ).catch((error: Error) => {
      if (error.message.includes("stopped during the run")) throw error;
      console.log(`  ${part} ${error.message}: measuring the ${bound.size} bound so far`);
      return false;
    });
    // from the release until every pod was seen bound (or the wait gave up)
    const cpuAfter = cpuSnapshot(processes);
    // the elected scheduler's binds (any early one, by a scheduler still running, is reported apart)
    const boundTimes = [...bound.values()].filter((t) => t >= releasedAt).sort((a, b) => a - b);
    const firstBind = boundTimes[0] ?? Number.NaN;
    const lastBind = boundTimes.at(-1) ?? Number.NaN;
    const churn = leadershipStarts(
      cluster,
      releasedWallMs,
      releasedWallMs + (lastBind - releasedAt),
    );
    let allRunning: number | null = null;
    if (allBound && o.nodes === "kubelets") {
      console.log(
        `  ${part} ${bound.size} bound; waiting for the hollow kubelets to report Running`,
      );
      allRunning = await waitWhileAlive(
        `${expected} pods Running`,
        alive,
        () => (running.size >= expected ? now() : undefined),
        timeoutMs,
      ).catch((error: Error) => {
        if (error.message.includes("stopped during the run")) throw error;
        return null;
      });
    }
    stopWatch();
    alive();

    const bins = new Map<number, number>();
    for (const t of boundTimes) {
      const second = Math.floor((t - firstBind) / 1000);
      bins.set(second, (bins.get(second) ?? 0) + 1);
    }
    const wholeSeconds = Math.floor((lastBind - firstBind) / 1000);
    const perSecond = Array.from({ length: wholeSeconds }, (_, s) => bins.get(s) ?? 0);
    if (hollow) await cleanup.stopChild(hollow.child);
    return {
      nodes: o.nodes,
      hollowNodes: o.hollowNodes,
      hollowLeaseRenewMs: o.leaseRenewMs,
      hollowRegisterMs: registerMs,
      cpuMsPerPod: cpuPerPod(cpuBefore, cpuAfter, Math.max(1, boundTimes.length)),
      pods: o.pods,
      createMs: Math.round(createMs),
      boundBeforeRelease,
      bound: bound.size,
      running: running.size,
      releaseToFirstBindMs: Math.round(firstBind - releasedAt),
      firstToLastBindMs: Math.round(lastBind - firstBind),
      podsPerSecond:
        lastBind > firstBind ? ((boundTimes.length - 1) * 1000) / (lastBind - firstBind) : 0,
      podsPerSecondFromRelease: (boundTimes.length * 1000) / (lastBind - releasedAt),
      perSecond: summarize(perSecond),
      releaseToAllRunningMs: allRunning === null ? null : Math.round(allRunning - releasedAt),
      targetPodsPerSecond: SCHEDULER_TARGET_PODS_PER_S,
      ciFloorPodsPerSecond: SCHEDULER_CI_FLOOR_PODS_PER_S,
      leadershipStarts: churn,
      compactEveryMs: o.compactEveryMs,
      compactions: compactor?.compactions() ?? 0,
      leaderElect: o.leaderElectFlags.length > 0 ? "kube" : "bosun",
      rewatches: api.rewatches,
      load: load(),
    };
  } finally {
    await controllers?.stop();
    compactor?.stop();
    api.close();
    await cleanup.stopCluster(cluster);
  }
}

// ---- (c) failover ----------------------------------------------------------------------------

interface FailoverRound {
  round: number;
  victim: string;
  killed: string[];
  victimWasRaftLeader: boolean;
  /** When the victim led Raft: ms until the survivors agreed on a new leader. */
  raftLeaderMs: number | null;
  /** Lease name → ms from the kill until another server held it (null: not seen in time). */
  takeoverMs: Record<string, number | null>;
  deploymentCreatedMs: number | null;
  replicaSetMs: number | null;
  podMs: number | null;
  podBoundMs: number | null;
  /** Leaderships begun from the kill until the round's measures were in (takeovers included). */
  leadershipStarts: LeadershipStarts;
}

interface FailoverFigures {
  rounds: FailoverRound[];
  controllerManagerTakeoverMs: ReturnType<typeof summarize>;
  schedulerTakeoverMs: ReturnType<typeof summarize>;
  killToReplicaSetMs: ReturnType<typeof summarize>;
  killToPodMs: ReturnType<typeof summarize>;
  killToPodBoundMs: ReturnType<typeof summarize>;
  killToRaftLeaderMs: ReturnType<typeof summarize>;
  targetMs: number;
  load: string;
}

async function leaseHolder(api: ClusterApi, ep: Endpoint, lease: string): Promise<string> {
  const r = await api.call(
    ep,
    "GET",
    `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${lease}`,
  );
  return r.code === 200
    ? String((r.body.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? "")
    : "";
}

async function failover(
  cluster: LocalCluster,
  api: ClusterApi,
  cleanup: Cleanup,
  rounds: number,
): Promise<FailoverFigures> {
  const ns = "bench-failover";
  await ensureNamespace(api, ns);
  const ids = cluster.cluster.nodes.map((n) => n.id);
  const results: FailoverRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    // steady state: an agreed Raft leader, both Leases held by live servers
    const raftLeader = await cluster.leader();
    const holders = await waitFor(
      "both Leases held",
      async () => {
        const ep = api.endpointOf(raftLeader);
        const kcm = await leaseHolder(api, ep, CONTROLLER_MANAGER_LEASE);
        const sched = await leaseHolder(api, ep, SCHEDULER_LEASE);
        return ids.includes(kcm) && ids.includes(sched) ? { kcm, sched } : undefined;
      },
      60_000,
      200,
    );
    const victim = round % 2 === 1 ? holders.kcm : holders.sched;
    const survivor = ids.find((id) => id !== victim) as string;
    const ep = api.endpointOf(survivor);
    const killed = [CONTROLLER_MANAGER_LEASE, SCHEDULER_LEASE].filter(
      (l) => (l === CONTROLLER_MANAGER_LEASE ? holders.kcm : holders.sched) === victim,
    );
    const deployment = `fo-${round}`;
    const seen: { takeover: Map<string, number>; rs?: number; pod?: number; bound?: number } = {
      takeover: new Map(),
    };
    const stops = [
      await api.watch(
        ep,
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
        cleanup,
        (_type, lease) => {
          const holder = String(
            (lease.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? "",
          );
          const name = lease.metadata.name;
          if (killed.includes(name) && holder && holder !== victim && !seen.takeover.has(name))
            seen.takeover.set(name, now());
        },
      ),
      await api.watch(ep, `/apis/apps/v1/namespaces/${ns}/replicasets`, cleanup, (_t, rs) => {
        if (rs.metadata.name.startsWith(`${deployment}-`)) seen.rs ??= now();
      }),
      await api.watch(ep, `/api/v1/namespaces/${ns}/pods`, cleanup, (_t, pod) => {
        if (!pod.metadata.name.startsWith(`${deployment}-`)) return;
        seen.pod ??= now();
        if (nodeNameOf(pod)) seen.bound ??= now();
      }),
    ];
    const killedAt = now();
    const killedWallMs = clock.wallMs();
    cluster.kill(victim);
    const raftElected =
      victim === raftLeader
        ? cluster.leader([victim]).then(
            () => now(),
            () => null,
          )
        : Promise.resolve(null);
    const created = await api
      .must(
        ep,
        "POST",
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        {
          metadata: { name: deployment },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: deployment } },
            template: {
              metadata: { labels: { app: deployment } },
              spec: {
                terminationGracePeriodSeconds: 1,
                containers: [{ name: "pause", image: "bosun/pause" }],
              },
            },
          },
        },
        [201],
        FAILOVER_ROUND_TIMEOUT_MS,
      )
      .then(
        () => now(),
        () => null,
      );
    await waitFor(
      `round ${round}: takeover and the deployment acted on`,
      () => seen.takeover.size === killed.length && seen.bound !== undefined,
      FAILOVER_ROUND_TIMEOUT_MS,
      20,
    ).catch((error: Error) => console.log(`  (c) ${error.message}`));
    for (const stop of stops) stop();
    const since = (t: number | undefined | null) =>
      t === undefined || t === null ? null : Math.round(t - killedAt);
    const result: FailoverRound = {
      round,
      victim,
      killed,
      victimWasRaftLeader: victim === raftLeader,
      raftLeaderMs: since(await raftElected),
      takeoverMs: Object.fromEntries(killed.map((l) => [l, since(seen.takeover.get(l))])),
      deploymentCreatedMs: since(created),
      replicaSetMs: since(seen.rs),
      podMs: since(seen.pod),
      podBoundMs: since(seen.bound),
      leadershipStarts: leadershipStarts(cluster, killedWallMs, clock.wallMs()),
    };
    results.push(result);
    const takeovers = Object.entries(result.takeoverMs)
      .map(([lease, ms]) => `${lease} ${ms ?? "-"} ms`)
      .join(", ");
    const raft = result.victimWasRaftLeader
      ? `, Raft leader: re-elected in ${result.raftLeaderMs ?? "-"} ms`
      : "";
    const churn = result.leadershipStarts;
    console.log(
      `  (c) round ${round}: killed ${victim} (${killed.join(", ")}${raft}) → ${takeovers}; ReplicaSet ${result.replicaSetMs ?? "-"} ms, pod bound ${result.podBoundMs ?? "-"} ms; leaderships begun: controller manager ${churn.controllerManager}, scheduler ${churn.scheduler}`,
    );
    await cluster.restart(victim);
    await cluster.leader();
  }
  const pick = (f: (r: FailoverRound) => number | null) =>
    summarize(results.map(f).filter((x): x is number => x !== null));
  return {
    rounds: results,
    controllerManagerTakeoverMs: pick((r) => r.takeoverMs[CONTROLLER_MANAGER_LEASE] ?? null),
    schedulerTakeoverMs: pick((r) => r.takeoverMs[SCHEDULER_LEASE] ?? null),
    killToReplicaSetMs: pick((r) => r.replicaSetMs),
    killToPodMs: pick((r) => r.podMs),
    killToPodBoundMs: pick((r) => r.podBoundMs),
    killToRaftLeaderMs: pick((r) => r.raftLeaderMs),
    targetMs: FAILOVER_TARGET_MS,
    load: load(),
  };
}

// ---- report ----------------------------------------------------------------------------------

interface Results {
  startup?: StartupFigures;
  scheduler?: SchedulerFigures;
  /** Part p: scheduler_perf's SchedulingBasic (static nodes, no kubelets, no controllers). */
  schedulerPerf?: SchedulerFigures;
  failover?: FailoverFigures;
}

function report(results: Results): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const ms = (x: number | null | undefined) =>
    x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(0);
  const rows: string[][] = [["part", "measure", "n", "p50", "p99", "max", "target"]];
  const s = results.startup;
  if (s) {
    const verdict = (p99: number) =>
      `p99 ≤ ${s.targetP99Ms} ms ${p99 <= s.targetP99Ms ? "ok" : "MISSED"}; SLO ${s.sloP99Ms} ms ${p99 <= s.sloP99Ms ? "ok" : "MISSED"}`;
    rows.push([
      "(a)",
      `create → bound (ms), ${s.ratePerSecond}/s`,
      String(s.createToBoundMs.n),
      ms(s.createToBoundMs.p50),
      ms(s.createToBoundMs.p99),
      ms(s.createToBoundMs.max),
      "",
    ]);
    rows.push([
      "(a)",
      `create → Running (ms), ${s.ratePerSecond}/s`,
      `${s.createToRunningMs.n}/${s.pods}`,
      ms(s.createToRunningMs.p50),
      ms(s.createToRunningMs.p99),
      ms(s.createToRunningMs.max),
      verdict(s.createToRunningMs.p99),
    ]);
  }
  const b = results.scheduler;
  for (const [part, x] of [
    ["(b)", b],
    ["(p)", results.schedulerPerf],
  ] as const) {
    if (!x) continue;
    const nodes = x.nodes === "static" ? "static nodes" : "hollow nodes";
    rows.push([
      part,
      `binds/s via API, ${x.hollowNodes} ${nodes}`,
      `${x.bound}/${x.pods}`,
      x.podsPerSecond.toFixed(0),
      "",
      "",
      `≥ ${x.targetPodsPerSecond} ${x.podsPerSecond >= x.targetPodsPerSecond ? "ok" : "MISSED"}; CI floor ${x.ciFloorPodsPerSecond} ${x.podsPerSecond >= x.ciFloorPodsPerSecond ? "ok" : "MISSED"}`,
    ]);
    rows.push([
      part,
      "binds in each second (pods/s)",
      String(x.perSecond.n),
      ms(x.perSecond.p50),
      "",
      ms(x.perSecond.max),
      "",
    ]);
    rows.push([
      part,
      "CPU ms per bound pod, all processes",
      String(x.bound),
      String(x.cpuMsPerPod.total),
      "",
      "",
      Object.entries(x.cpuMsPerPod)
        .filter(([name]) => name !== "total")
        .map(([name, cpu]) => `${name} ${cpu}`)
        .join(", "),
    ]);
    rows.push([
      part,
      "in process (queue + framework)",
      String(x.inProcess.bound),
      String(x.inProcess.podsPerSecond),
      "",
      "",
      `≥ ${x.targetPodsPerSecond} ${x.inProcess.podsPerSecond >= x.targetPodsPerSecond ? "ok" : "MISSED"}`,
    ]);
  }
  const f = results.failover;
  if (f) {
    const line = (what: string, x: ReturnType<typeof summarize>) => [
      "(c)",
      what,
      String(x.n),
      ms(x.p50),
      ms(x.p99),
      ms(x.max),
      x.n === 0 ? "" : `< ${f.targetMs} ms ${x.p99 < f.targetMs ? "ok" : "MISSED"}`,
    ];
    rows.push(line("kill → Raft leader (victim led)", f.killToRaftLeaderMs));
    rows.push(line("kill → controller-manager Lease taken", f.controllerManagerTakeoverMs));
    rows.push(line("kill → scheduler Lease taken", f.schedulerTakeoverMs));
    rows.push(line("kill → new Deployment's ReplicaSet", f.killToReplicaSetMs));
    rows.push(line("kill → its Pod created", f.killToPodMs));
    rows.push(line("kill → its Pod bound", f.killToPodBoundMs));
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  console.log("");
  for (const r of rows) console.log(r.map((c, i) => pad(c, (widths[i] ?? 0) + 2)).join(""));
  if (s)
    console.log(
      `\n(a) leaderships begun during the run (a stable cluster: 0): controller manager ${s.leadershipStarts.controllerManager}, scheduler ${s.leadershipStarts.scheduler}`,
    );
  if (b)
    console.log(
      `(b) leaderships begun from release to last bind (stable: 1 scheduler): controller manager ${b.leadershipStarts.controllerManager}, scheduler ${b.leadershipStarts.scheduler}; the bench compacted the store ${b.compactions} times (every ${b.compactEveryMs / 1000} s); leader election timings: ${b.leaderElect === "kube" ? "Kubernetes' (15 s / 10 s / 2 s)" : "bosun's (800 / 700 / 200 ms)"}; the bench's pod watch was ended by the server and resumed ${b.rewatches} times`,
    );
  for (const [part, x] of [
    ["(b)", b],
    ["(p)", results.schedulerPerf],
  ] as const) {
    if (!x) continue;
    console.log(
      `\n${part} ${x.pods} pods created in ${x.createMs} ms with the scheduler Lease held (${x.boundBeforeRelease} bound early); release → first bind ${x.releaseToFirstBindMs} ms, first → last bind ${x.firstToLastBindMs} ms (${x.podsPerSecondFromRelease.toFixed(0)} pods/s from release); all Running ${x.releaseToAllRunningMs ?? "-"} ms after release`,
    );
  }
  const p = results.schedulerPerf;
  if (p)
    console.log(
      `(p) scheduler_perf SchedulingBasic: no kubelets (static Ready nodes nobody updates), the controller manager's Lease held by the bench; leaderships begun from release to last bind: scheduler ${p.leadershipStarts.scheduler}`,
    );
}

// ---- main ------------------------------------------------------------------------------------

/** --leader-elect: Kubernetes' default timings as node flags, or none (bosun's defaults). */
function leaderElectFlags(timings: string): string[] {
  if (timings === "bosun") return [];
  if (timings !== "kube") throw new Error("--leader-elect must be kube or bosun");
  return [
    "--leader-elect-lease-duration",
    "15s",
    "--leader-elect-renew-deadline",
    "10s",
    "--leader-elect-retry-period",
    "2s",
  ];
}

function int(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}`);
  return n;
}

async function main(o: Options): Promise<void> {
  const only = o.only ?? (o.schedulerPerf ? "p" : "a,b,c");
  const parts = new Set(only.split(",").map((p) => p.trim()));
  // production runs the bundle; the processes this bench starts run what --runtime names
  if (o.runtime === "dist") {
    await buildBundle();
    process.env.BOSUN_NODE_RUNTIME = "dist";
  } else if (o.runtime === "tsx") process.env.BOSUN_NODE_RUNTIME = "tsx";
  else throw new Error("--runtime must be dist or tsx");
  const pods = int(o.pods ?? (o.quick ? "20" : "100"), "--pods", 1);
  const rate = Number(o.rate);
  if (!(rate > 0)) throw new Error("--rate must be positive");
  const hollowNodes = int(o.hollowNodes ?? (o.quick ? "100" : "1000"), "--hollow-nodes", 1);
  const schedPods = int(o.schedPods ?? (o.quick ? "1000" : "10000"), "--sched-pods", 1);
  const rounds = int(o.failoverRounds ?? (o.quick ? "2" : "6"), "--failover-rounds", 1);
  console.log(
    `bench:workloads${o.quick ? " (quick)" : ""} — parts ${[...parts].join(",")}; nodes run ${o.runtime}; ${cpus().length} cpus, load ${load()}`,
  );
  const cleanup = new Cleanup();
  const results: Results = {};
  const finish = (failure: unknown) => {
    report(results);
    mkdirSync(dirname(o.json), { recursive: true });
    const failed = failure === null ? {} : { failure: String(failure) };
    writeFileSync(
      o.json,
      `${JSON.stringify({ quick: o.quick, cpus: cpus().length, ...failed, ...results }, null, 2)}\n`,
    );
    console.log(`\nwrote ${o.json}${failure === null ? "" : " (partial: the run failed)"}`);
  };
  const onSignal = () => {
    cleanup.all().finally(() => {
      finish("interrupted");
      process.exit(130);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let failure: unknown = null;
  try {
    if (parts.has("a") || parts.has("c")) {
      const cluster = cleanup.cluster(await LocalCluster.start(3, [], true));
      const api = new ClusterApi(cluster);
      try {
        await waitForNodes(api, "3 Ready nodes", 3, "", 60_000);
        if (parts.has("a")) {
          console.log(`  (a) ${pods} pods at ${rate}/s on 3 real nodes (load ${load()})`);
          results.startup = await podStartup(api, cleanup, pods, rate);
        }
        if (parts.has("c")) {
          console.log(`  (c) ${rounds} failover rounds (load ${load()})`);
          results.failover = await failover(cluster, api, cleanup, rounds);
        }
      } finally {
        api.close();
        await cleanup.stopCluster(cluster);
      }
    }
    for (const part of ["b", "p"] as const) {
      if (!parts.has(part)) continue;
      const viaApi = await schedulerThroughput(cleanup, {
        nodes: part === "b" ? "kubelets" : "static",
        hollowNodes,
        pods: schedPods,
        leaseRenewMs: int(o.hollowLeaseRenewMs, "--hollow-lease-renew-ms", 1),
        nodeMonitorGracePeriod: o.nodeMonitorGracePeriod,
        leaderElectFlags: leaderElectFlags(o.leaderElect),
        createConcurrency: int(o.createConcurrency, "--create-concurrency", 1),
        bindTimeoutMs: o.bindTimeoutS ? int(o.bindTimeoutS, "--bind-timeout-s", 1) * 1000 : null,
        compactEveryMs: int(o.compactEveryS, "--compact-every-s", 0) * 1000,
      });
      // after the cluster is gone, so that it has the machine to itself
      results[part === "b" ? "scheduler" : "schedulerPerf"] = {
        ...viaApi,
        inProcess: inProcessSchedulerThroughput(hollowNodes, schedPods),
      };
    }
  } catch (error) {
    failure = error;
    console.log(`\nFAILED: ${(error as Error).message ?? String(error)}`);
  } finally {
    await cleanup.all();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  finish(failure);
  if (failure !== null) process.exitCode = 1;
}

const program = new Command("bench:workloads")
  .option("--quick", "small sizes: 20 pods, 100 hollow nodes, 1,000 pods, 2 rounds", false)
  .option(
    "--only <parts>",
    "which parts to run: a (startup), b (scheduler, hollow kubelets), c (failover), p (scheduler_perf); default a,b,c",
  )
  .option(
    "--scheduler-perf",
    "part p alone (unless --only): API servers, store and scheduler, --hollow-nodes static Ready nodes that nobody updates, --sched-pods pods (scheduler_perf's SchedulingBasic)",
    false,
  )
  .option(
    "--runtime <runtime>",
    "what the cluster's processes run: dist (the bundle, built first) or tsx (the sources)",
    "dist",
  )
  .option("--pods <n>", "(a) pods to start (default 100; quick 20)")
  .option("--rate <n>", "(a) pods created per second", "10")
  .option("--hollow-nodes <n>", "(b) hollow nodes (default 1000; quick 100)")
  .option("--sched-pods <n>", "(b) pods to schedule (default 10000; quick 1000)")
  .option("--hollow-lease-renew-ms <ms>", "(b) the hollow nodes' Lease renew interval", "10000")
  .option(
    "--node-monitor-grace-period <duration>",
    "(b) the cluster's node monitor grace period (Kubernetes' default)",
    "40s",
  )
  .option(
    "--leader-elect <timings>",
    "(b) the controller manager's and scheduler's election timings: kube (15 s / 10 s / 2 s, as kubemark runs) or bosun (800 / 700 / 200 ms, what (c) measures)",
    "kube",
  )
  .option("--create-concurrency <n>", "(b) concurrent pod creates before measuring", "32")
  .option(
    "--bind-timeout-s <s>",
    "(b) stop waiting for binds after this and measure those done (default: 0.1 s a pod)",
  )
  .option(
    "--compact-every-s <s>",
    "(b) compact the store's history every s seconds, as kube-apiserver does (0: never)",
    "15",
  )
  .option("--failover-rounds <n>", "(c) kills (default 6; quick 2)")
  .option("--json <file>", "where to write the figures", "bench-results/workloads.json")
  .action(async (o: Options) => {
    await main(o);
  });
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
