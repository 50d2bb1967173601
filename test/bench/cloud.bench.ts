/**
 * `npm run bench:cloud [-- --json FILE] [--quick] [--creates N] [--no-cluster] [--no-data-plane]`:
 * the local cloud's load balancers.
 *
 *   (a) throughput through a load balancer (the data plane statechart with the service proxy's
 *       forwarders, as a node runs it) beside a direct connection and HAProxy (tcp mode,
 *       roundrobin, one thread), against the same three backends standing in for NodePorts:
 *       bulk MiB/s with 1 and 16 streams, new connections/s                (target: ≥ 0.8× HAProxy)
 *   (b) on a real 3-server cluster: a LoadBalancer Service created → its external IP in
 *       status → answering HTTP through it, p50/p99 over `--creates` Services (default 20, 5
 *       with --quick)                                                     (target: p99 ≤ 1 s;
 *       cloud load balancers take from 30 s to minutes)
 *
 * The backends are bench:proxy's (its `--child backends`), the load balancer runs in a child
 * process of this file, HAProxy in its own, the load in this one.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { pino } from "pino";
import { LocalCloudState } from "../../actors/cloud/local/local-cloud-state.ts";
import { ActorSystem } from "../../actors/system/actor-system.ts";
import { SystemClock } from "../../actors/system/clock.ts";
import { startLocalDataPlane } from "../../cmd/node/cloud-role.ts";
import { apiRequest } from "../integration/apiserver/kubectl-harness.ts";
import { runEchoDeployment, waitForReadyNodes } from "../integration/workloads/workload-harness.ts";
import { LocalCluster } from "../support/local-cluster.ts";
import { waitFor } from "../support/wait.ts";
import {
  bulkThroughput,
  haproxyConfig,
  httpGet,
  newConnectionsPerSecond,
  PORTS,
  PROXY_BENCH_FILE,
  pollUntil,
  portAnswers,
  startChild,
  type Target,
} from "./proxy.bench.ts";
import { summarize } from "./stats.ts";

const THIS_FILE = fileURLToPath(import.meta.url);
const clock = new SystemClock();
const now = () => performance.now();
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

// ---- child: one load balancer, served by the data plane ------------------------------------------

/** `dir`: the cloud's state directory, made and removed by the parent (this child is SIGKILLed). */
async function runLoadBalancer(dir: string, vip: string, backends: string[]): Promise<void> {
  process.on("SIGINT", () => process.exit(0));
  const logger = pino({ level: "silent" });
  const system = new ActorSystem({ nodeId: "bench", clock, logger });
  const state = new LocalCloudState(dir);
  state.putLoadBalancer({
    name: "abench",
    cluster: "bench",
    service: "bench/lb",
    serviceUid: "bench",
    ip: vip,
    // the backends' ports stand in for NodePorts
    ports: [
      { protocol: "TCP", port: PORTS.bulk, nodePort: PORTS.bulk },
      { protocol: "TCP", port: PORTS.rr, nodePort: PORTS.rr },
    ],
    backends: backends.map((address, i) => ({ node: `n${i + 1}`, address })),
    healthCheck: { kind: "tcp" },
  });
  const plane = startLocalDataPlane(system, state, logger);
  await waitFor("the load balancer's listeners", () =>
    plane.report()[0]?.listeners.every((l) => l.listening),
  );
  console.log("ready");
}

// ---- (b) a real cluster --------------------------------------------------------------------------

async function clusterFigures(creates: number) {
  const cluster = await LocalCluster.start(3, [], true);
  try {
    await waitForReadyNodes(cluster, 3);
    await runEchoDeployment(cluster, "a", 2);
    const toIP: number[] = [];
    const answering: number[] = [];
    for (let i = 0; i < creates; i++) {
      const name = `lb-${i}`;
      const path = `/api/v1/namespaces/default/services/${name}`;
      const t0 = now();
      const r = await apiRequest(cluster, "POST", "/api/v1/namespaces/default/services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name },
        spec: {
          type: "LoadBalancer",
          selector: { app: "a" },
          ports: [{ port: 80, targetPort: 8080 }],
        },
      });
      if (r.code !== 201) throw new Error(`create ${name}: ${r.code} ${r.text}`);
      const ip = await pollUntil(async () => {
        const svc = JSON.parse((await apiRequest(cluster, "GET", path)).text) as {
          status?: { loadBalancer?: { ingress?: { ip: string }[] } };
        };
        return svc.status?.loadBalancer?.ingress?.[0]?.ip ?? null;
      });
      toIP.push(now() - t0);
      await pollUntil(async () => (await httpGet(ip, 80, 200))?.startsWith("a-"));
      answering.push(now() - t0);
      await apiRequest(cluster, "DELETE", path);
    }
    return { externalIP: summarize(toIP), answering: summarize(answering) };
  } finally {
    await cluster.stop();
  }
}

// ---- main ------------------------------------------------------------------------------------------

async function main(options: {
  json?: string;
  quick: boolean;
  cluster: boolean;
  dataPlane: boolean;
  creates?: string;
}) {
  const results: Record<string, unknown> = {};
  if (options.dataPlane) {
    const base = `127.${90 + Math.floor(Math.random() * 5)}.${1 + Math.floor(Math.random() * 250)}`;
    const backends = [`${base}.11`, `${base}.12`, `${base}.13`];
    const lbVIP = `${base}.4`;
    const haproxyVIP = `${base}.3`;
    const durationMs = options.quick ? 1_500 : 3_000;
    const children: ChildProcess[] = [];
    const dir = mkdtempSync(join(tmpdir(), "bosun-cloud-bench-haproxy-"));
    try {
      const child = (file: string, role: string, hosts: string[]) =>
        startChild(process.execPath, [
          "--import",
          "tsx",
          file,
          "--child",
          role,
          "--hosts",
          hosts.join(","),
        ]);
      children.push(await child(PROXY_BENCH_FILE, "backends", backends));
      const stateDir = join(dir, "cloud");
      mkdirSync(stateDir);
      children.push(await child(THIS_FILE, "lb", [stateDir, lbVIP, ...backends]));
      const haproxyBin = spawnSync("which", ["haproxy"]).stdout.toString().trim();
      if (haproxyBin !== "") {
        const cfg = join(dir, "haproxy.cfg");
        writeFileSync(cfg, haproxyConfig(haproxyVIP, backends));
        children.push(spawn(haproxyBin, ["-f", cfg, "-db"], { stdio: "ignore" }));
        await waitFor("haproxy", () => portAnswers(haproxyVIP, PORTS.rr));
      } else console.log("haproxy not installed (apt-get install -y haproxy): its column is empty");
      let next = 0;
      const targets: [string, Target][] = [
        ["direct", () => backends[next++ % backends.length] as string],
        ["bosun-lb", () => lbVIP],
        ...(haproxyBin !== "" ? ([["haproxy", () => haproxyVIP]] as [string, Target][]) : []),
      ];
      const columns = ["direct", "bosun-lb", "haproxy"];
      const row = (label: string, values: Record<string, number>, digits = 0) =>
        console.log(
          `${label.padEnd(34)} ${columns.map((c) => fmt(values[c] ?? Number.NaN, digits).padStart(12)).join(" ")}`,
        );
      console.log(`${"".padEnd(34)} ${columns.map((c) => c.padStart(12)).join(" ")}`);
      for (const streams of [1, 16]) {
        const figures: Record<string, number> = {};
        for (const [name, target] of targets)
          figures[name] = await bulkThroughput(target, streams, durationMs);
        results[`bulkMiBps_${streams}`] = figures;
        row(`(a) bulk MiB/s, ${streams} stream(s)`, figures);
      }
      const conns: Record<string, number> = {};
      for (const [name, target] of targets)
        conns[name] = (await newConnectionsPerSecond(target, 64, durationMs)).perSecond;
      results.newConnectionsPerSec = conns;
      row("(a) new connections/s, 64 at once", conns);
      const ratio = (figures: unknown) => {
        const f = figures as Record<string, number>;
        return (f["bosun-lb"] ?? Number.NaN) / (f.haproxy ?? Number.NaN);
      };
      const ratios = {
        bulk1VsHaproxy: ratio(results.bulkMiBps_1),
        bulk16VsHaproxy: ratio(results.bulkMiBps_16),
        newConnectionsVsHaproxy: ratio(conns),
      };
      results.ratios = ratios;
      console.log(
        `\nbosun-lb/haproxy: bulk ×${fmt(ratios.bulk1VsHaproxy, 2)} (1 stream), ×${fmt(ratios.bulk16VsHaproxy, 2)} (16), new connections ×${fmt(ratios.newConnectionsVsHaproxy, 2)}  [target ≥ 0.8]`,
      );
    } finally {
      for (const c of children) c.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (options.cluster) {
    console.log("\nstarting a 3-server cluster for (b) …");
    const creates =
      options.creates !== undefined ? Number(options.creates) : options.quick ? 5 : 20;
    if (!Number.isInteger(creates) || creates < 1) throw new Error("--creates: a positive integer");
    const figures = await clusterFigures(creates);
    results.cluster = figures;
    console.log(
      `(b) LoadBalancer Service create → external IP: p50 ${fmt(figures.externalIP.p50, 0)} ms, p99 ${fmt(figures.externalIP.p99, 0)} ms; → answering through it: p50 ${fmt(figures.answering.p50, 0)} ms, p99 ${fmt(figures.answering.p99, 0)} ms (n=${figures.answering.n}) [target p99 ≤ 1 s]`,
    );
  }
  if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
}

const program = new Command()
  .option("--json <file>", "write the figures as JSON")
  .option("--quick", "shorter runs", false)
  .option("--creates <n>", "(b): LoadBalancer Services created one after another")
  .option("--no-cluster", "skip (b), which starts a cluster")
  .option("--no-data-plane", "skip (a)")
  .option("--child <role>", "internal: run as the load balancer")
  .option("--hosts <list>", "internal: the child's addresses (the lb child: its state dir first)")
  .action(
    async (options: {
      json?: string;
      quick: boolean;
      cluster: boolean;
      dataPlane: boolean;
      creates?: string;
      child?: string;
      hosts?: string;
    }) => {
      const hosts = (options.hosts ?? "").split(",").filter((h) => h !== "");
      if (options.child === "lb")
        return runLoadBalancer(hosts[0] as string, hosts[1] as string, hosts.slice(2));
      await main(options);
      process.exit(0);
    },
  );
await program.parseAsync(process.argv);
