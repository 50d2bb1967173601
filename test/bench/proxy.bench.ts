/**
 * `npm run bench:proxy [-- --json FILE] [--quick] [--no-cluster] [--proxy-mode M]`: bosun's
 * service proxy (in mode M: iptables, nftables or userspace; by default what a node picks here) beside
 * a direct connection and HAProxy (Debian's `haproxy`, tcp mode, roundrobin, one thread like
 * bosun's one event loop), in one run, on loopback, against the same three backends:
 *
 *   (a) bulk TCP throughput, 1 and 16 streams          (target: ≥ 0.8× HAProxy)
 *   (b) new connections/s, 64 B req/resp, 64 at once, the columns in turn (target: ≥ 0.8× HAProxy)
 *   (c) latency added on a keep-alive connection, p50/p99 (target: ≤ 1 ms added at p99)
 *   (d) UDP req/resp per second, 16 flows (HAProxy has no UDP: direct vs bosun)
 *   (e) on a real 3-server cluster: Service create → cluster IP answering, and a selector
 *       change → traffic following, p50/p99 (target: p99 ≤ 100 ms)
 *   (f) SIGKILL of the node holding the cluster-IP listeners → the cluster IP answering again
 *       (target: ≤ 1 s)
 *
 * The backends and bosun's proxier run in child processes (the proxier as a node runs it, fed
 * Services and slices directly), HAProxy in its own, the load in this one. Parts (e) and (f)
 * start a cluster (`--no-cluster` skips them).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { pino } from "pino";
import type { JsonObject } from "../../actors/api/json.ts";
import { DEFAULT_PROXY_LIMITS } from "../../actors/proxy/limits.ts";
import { Proxier } from "../../actors/proxy/proxier.ts";
import { type ProxyMode, parseProxyMode, resolveProxyMode } from "../../actors/proxy/proxy-mode.ts";
import { SystemClock, sleep } from "../../actors/system/clock.ts";
import { isBosunNode } from "../../cmd/launcher.ts";
import type { NodeStatus } from "../../cmd/node/introspection.ts";
import { getJson } from "../../cmd/node-client.ts";
import { apiRequest, kubectlOk } from "../integration/apiserver/kubectl-harness.ts";
import { runEchoDeployment, waitForReadyNodes } from "../integration/workloads/workload-harness.ts";
import { LocalCluster } from "../support/local-cluster.ts";
import { waitFor } from "../support/wait.ts";
import { summarize } from "./stats.ts";

/** This file; also a module of load tools for bench:cloud (its program runs only as the entry). */
export const PROXY_BENCH_FILE = fileURLToPath(import.meta.url);
const THIS_FILE = PROXY_BENCH_FILE;
const clock = new SystemClock();
const now = () => performance.now();

export const PORTS = { bulk: 9000, rr: 9001, udp: 9002 };
const MESSAGE_BYTES = 64;
/** (b) is measured in this many slices per column, taken in turn. */
const CONNECTION_SLICES = 6;
const CHUNK = Buffer.alloc(64 * 1024, 7);

// ---- child: the backends -------------------------------------------------------------------------

async function runBackends(hosts: string[]): Promise<void> {
  for (const host of hosts) {
    // bulk: streams to every client as fast as it reads
    const bulk = createServer((s) => {
      s.on("error", () => undefined);
      const pump = () => {
        while (!s.destroyed && s.write(CHUNK));
        if (!s.destroyed) s.once("drain", pump);
      };
      pump();
    });
    // req/resp: echoes what it reads (a 64 B request gets a 64 B answer)
    const rr = createServer((s) => {
      s.on("error", () => undefined);
      s.setNoDelay(true);
      s.on("data", (d) => s.write(d));
      s.on("end", () => s.end());
    });
    const udp = createSocket("udp4");
    udp.on("message", (m, from) => udp.send(m, from.port, from.address));
    await Promise.all([
      new Promise<void>((r) => bulk.listen({ host, port: PORTS.bulk, backlog: 4096 }, () => r())),
      new Promise<void>((r) => rr.listen({ host, port: PORTS.rr, backlog: 4096 }, () => r())),
      new Promise<void>((r) => udp.bind(PORTS.udp, host, () => r())),
    ]);
  }
  console.log("ready");
}

// ---- child: bosun's proxier, fed directly -----------------------------------------------------------

async function runBosunProxy(vip: string, backends: string[], mode: ProxyMode): Promise<void> {
  const proxier = new Proxier({
    nodeName: "bench",
    nodeAddress: "127.0.0.1",
    clock,
    logger: pino({ level: "silent" }),
    limits: { ...DEFAULT_PROXY_LIMITS, maxConnectionsPerServicePort: 20_000 },
    mode,
    clusterIdentity: `proxy-bench-${process.pid}`,
  });
  for (const [name, port] of Object.entries(PORTS)) {
    const protocol = name === "udp" ? "UDP" : "TCP";
    const service: JsonObject = {
      metadata: { namespace: "bench", name },
      spec: { clusterIP: vip, ports: [{ port, protocol }] },
    };
    const slice: JsonObject = {
      metadata: {
        namespace: "bench",
        name: `${name}-1`,
        labels: { "kubernetes.io/service-name": name },
      },
      addressType: "IPv4",
      ports: [{ name: "", port, protocol }],
      endpoints: backends.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    };
    proxier.recordService(service);
    proxier.recordSlice(slice);
    proxier.syncService(`bench/${name}`);
  }
  proxier.setHolding(true);
  // exit (not die) on SIGINT, so that `node --cpu-prof` writes its profile; the kernel modes'
  // rules go with the proxier (SIGTERM is how the bench ends this child)
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      proxier.stop();
      process.exit(0);
    });
  // in a kernel mode, its rules too: a connection made before them stays in userspace
  await waitFor(
    "bosun's listeners",
    () =>
      proxier.report().every((r) => r.clusterIPListening) &&
      (proxier.kernelRules?.settled() ?? true),
  );
  console.log("ready");
}

// ---- HAProxy ----------------------------------------------------------------------------------------

export function haproxyConfig(vip: string, backends: string[]): string {
  const section = (name: string, port: number) =>
    [
      `frontend ${name}`,
      `  bind ${vip}:${port}`,
      `  default_backend ${name}_servers`,
      `backend ${name}_servers`,
      "  balance roundrobin",
      ...backends.map((ip, i) => `  server s${i} ${ip}:${port}`),
    ].join("\n");
  return [
    "global",
    "  maxconn 8000", // under the 20,000 fd limit here (two fds per connection, and some)
    "  nbthread 1",
    "defaults",
    "  mode tcp",
    "  timeout connect 5s",
    "  timeout client 60s",
    "  timeout server 60s",
    section("bulk", PORTS.bulk),
    section("rr", PORTS.rr),
    "",
  ].join("\n");
}

// ---- children ---------------------------------------------------------------------------------------

export function startChild(
  command: string,
  args: string[],
  readyLine = "ready",
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(readyLine)) resolve(child);
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("exit", (code) => reject(new Error(`${command} exited ${code}: ${out}`)));
  });
}

export async function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

// ---- load -------------------------------------------------------------------------------------------

/** A target: where each new connection goes (direct round-robins over the backends itself). */
export type Target = () => string;

export async function bulkThroughput(target: Target, streams: number, durationMs: number) {
  let bytes = 0;
  let counting = false;
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = connect({ host: target(), port: PORTS.bulk });
          s.on("connect", () => resolve());
          s.on("error", reject);
          s.on("data", (d: Buffer) => {
            if (counting) bytes += d.length;
          });
          sockets.push(s);
        }),
    ),
  );
  await sleep(clock, 300); // warm up
  counting = true;
  const start = now();
  await sleep(clock, durationMs);
  counting = false;
  const seconds = (now() - start) / 1000;
  for (const s of sockets) s.destroy();
  return bytes / seconds / (1024 * 1024);
}

function oneExchange(host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: PORTS.rr, noDelay: true });
    let got = 0;
    s.on("connect", () => s.write(Buffer.alloc(MESSAGE_BYTES, 1)));
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= MESSAGE_BYTES) s.end();
    });
    s.on("close", () => (got >= MESSAGE_BYTES ? resolve() : reject(new Error("short answer"))));
    s.on("error", reject);
  });
}

export async function newConnectionsPerSecond(
  target: Target,
  concurrency: number,
  durationMs: number,
) {
  let done = 0;
  let failed = 0;
  const deadline = now() + durationMs;
  const start = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (now() < deadline) {
        try {
          await oneExchange(target());
          done++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { perSecond: done / ((now() - start) / 1000), failed };
}

async function keepAliveLatency(host: string, samples: number) {
  const s = connect({ host, port: PORTS.rr, noDelay: true });
  await new Promise<void>((r, j) => {
    s.once("connect", () => r());
    s.once("error", j);
  });
  const times: number[] = [];
  const message = Buffer.alloc(MESSAGE_BYTES, 2);
  for (let i = 0; i < samples + 200; i++) {
    const t0 = now();
    await new Promise<void>((resolve) => {
      let got = 0;
      const onData = (d: Buffer) => {
        got += d.length;
        if (got >= MESSAGE_BYTES) {
          s.off("data", onData);
          resolve();
        }
      };
      s.on("data", onData);
      s.write(message);
    });
    if (i >= 200) times.push(now() - t0); // the first 200 warm up
  }
  s.destroy();
  return summarize(times);
}

async function udpPerSecond(target: Target, flows: number, durationMs: number) {
  let done = 0;
  let lost = 0;
  const deadline = now() + durationMs;
  const start = now();
  await Promise.all(
    Array.from({ length: flows }, async () => {
      const socket = createSocket("udp4");
      await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
      const host = target();
      const message = Buffer.alloc(MESSAGE_BYTES, 3);
      while (now() < deadline) {
        const ok = await new Promise<boolean>((resolve) => {
          const timer = clock.setTimeout(() => {
            socket.off("message", onMessage);
            resolve(false);
          }, 200);
          const onMessage = () => {
            clock.clearTimeout(timer);
            resolve(true);
          };
          socket.once("message", onMessage);
          socket.send(message, PORTS.udp, host);
        });
        if (ok) done++;
        else lost++;
      }
      socket.close();
    }),
  );
  return { perSecond: done / ((now() - start) / 1000), lost };
}

// ---- (e) and (f): a real cluster ----------------------------------------------------------------------

export function httpGet(host: string, port: number, timeoutMs = 500): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body.trim()));
      res.on("error", () => resolve(null));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

export async function pollUntil<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (now() > deadline) throw new Error("timed out");
    await sleep(clock, 5);
  }
}

async function clusterFigures(rounds: { creates: number; flips: number; takeovers: number }) {
  const cluster = await LocalCluster.start(3, [], true);
  try {
    await waitForReadyNodes(cluster, 3);
    await runEchoDeployment(cluster, "a", 2);
    await runEchoDeployment(cluster, "b", 2);

    // (e1) Service create → cluster IP answering
    const created: number[] = [];
    const assigned: number[] = [];
    for (let i = 0; i < rounds.creates; i++) {
      const name = `svc-${i}`;
      const t0 = now();
      const r = await apiRequest(cluster, "POST", "/api/v1/namespaces/default/services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name },
        spec: { selector: { app: "a" }, ports: [{ port: 80, targetPort: 8080 }] },
      });
      if (r.code !== 201) throw new Error(`create ${name}: ${r.code} ${r.text}`);
      // the API server allocates inside the create: its answer carries the address
      const clusterIPOf = (text: string) =>
        (JSON.parse(text) as { spec: { clusterIP?: string } }).spec.clusterIP || null;
      const ip =
        clusterIPOf(r.text) ??
        (await pollUntil(async () =>
          clusterIPOf(
            (
              await apiRequest(cluster, "GET", `/api/v1/namespaces/default/services/${name}`)
            ).text,
          ),
        ));
      assigned.push(now() - t0);
      await pollUntil(async () => (await httpGet(ip, 80, 200))?.startsWith("a-"));
      created.push(now() - t0);
    }

    // (e2) a selector change → traffic following
    await kubectlOk(cluster, ["create", "service", "clusterip", "flip", "--tcp=80:8080"]);
    await kubectlOk(cluster, ["set", "selector", "service", "flip", "app=a"]);
    const flipIP = await pollUntil(async () => {
      const ip = await kubectlOk(cluster, [
        "get",
        "svc",
        "flip",
        "-o",
        "jsonpath={.spec.clusterIP}",
      ]);
      return ip || null;
    });
    await pollUntil(async () => (await httpGet(flipIP, 80))?.startsWith("a-"));
    const followed: number[] = [];
    for (let i = 0; i < rounds.flips; i++) {
      const to = i % 2 === 0 ? "b" : "a";
      const t0 = now();
      const r = await apiRequest(
        cluster,
        "PATCH",
        "/api/v1/namespaces/default/services/flip",
        { spec: { selector: { app: to } } },
        "application/merge-patch+json",
      );
      if (r.code !== 200) throw new Error(`patch flip: ${r.code} ${r.text}`);
      await pollUntil(async () => (await httpGet(flipIP, 80, 200))?.startsWith(`${to}-`));
      followed.push(now() - t0);
    }

    // (f) SIGKILL of the holder → the cluster IP answering again
    const takeovers: number[] = [];
    for (let i = 0; i < rounds.takeovers; i++) {
      const holder = await waitFor("a holder", async () => {
        for (const node of cluster.cluster.nodes) {
          const status = await getJson<NodeStatus>(node, "/status").catch(() => null);
          const proxy = status?.actors.find((a) => a.address === `${node.id}/proxy`);
          if (JSON.stringify(proxy?.state ?? "").includes("holding")) return node;
        }
        return undefined;
      });
      await pollUntil(async () => (await httpGet(flipIP, 80)) !== null);
      const t0 = now();
      cluster.kill(holder.id);
      await pollUntil(async () => {
        // an answer counts once the holder is gone (a zombie has no cmdline: not a bosun node)
        return !isBosunNode(holder.pid ?? 0) && (await httpGet(flipIP, 80, 200)) !== null;
      });
      takeovers.push(now() - t0);
      await cluster.restart(holder.id);
      await waitForReadyNodes(cluster, 3);
    }
    return {
      create: summarize(created),
      clusterIPAssigned: summarize(assigned),
      follow: summarize(followed),
      takeover: summarize(takeovers),
    };
  } finally {
    await cluster.stop();
  }
}

// ---- main ---------------------------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

async function main(options: {
  json?: string;
  quick?: boolean;
  cluster: boolean;
  dataPlane: boolean;
  mode: ProxyMode;
}) {
  console.log(`bosun's proxy mode: ${options.mode}`);
  const base = `127.${90 + Math.floor(Math.random() * 5)}.${1 + Math.floor(Math.random() * 250)}`;
  const backends = [`${base}.11`, `${base}.12`, `${base}.13`];
  const bosunVIP = `${base}.2`;
  const haproxyVIP = `${base}.3`;
  const durationMs = options.quick ? 1_500 : 3_000;
  const samples = options.quick ? 2_000 : 5_000;
  const children: ChildProcess[] = [];
  const results: Record<string, unknown> = { proxyMode: options.mode };
  if (options.dataPlane) await dataPlaneFigures();
  async function dataPlaneFigures() {
    const dir = mkdtempSync(join(tmpdir(), "bosun-proxy-bench-"));
    try {
      children.push(
        await startChild(process.execPath, [
          "--import",
          "tsx",
          THIS_FILE,
          "--child",
          "backends",
          "--hosts",
          backends.join(","),
        ]),
      );
      children.push(
        await startChild(process.execPath, [
          "--import",
          "tsx",
          THIS_FILE,
          "--child",
          "proxy",
          "--proxy-mode",
          options.mode,
          "--hosts",
          [bosunVIP, ...backends].join(","),
        ]),
      );
      const haproxyBin = spawnSync("which", ["haproxy"]).stdout.toString().trim();
      const hasHaproxy = haproxyBin !== "";
      if (hasHaproxy) {
        const cfg = join(dir, "haproxy.cfg");
        writeFileSync(cfg, haproxyConfig(haproxyVIP, backends));
        const child = spawn(haproxyBin, ["-f", cfg, "-db"], { stdio: "ignore" });
        children.push(child);
        await waitFor("haproxy", () => portAnswers(haproxyVIP, PORTS.rr));
      } else console.log("haproxy not installed (apt-get install -y haproxy): its column is empty");

      let next = 0;
      const targets: [string, Target][] = [
        ["direct", () => backends[next++ % backends.length] as string],
        ["bosun", () => bosunVIP],
        ...(hasHaproxy ? ([["haproxy", () => haproxyVIP]] as [string, Target][]) : []),
      ];
      const row = (label: string, values: Record<string, string>) =>
        console.log(
          `${label.padEnd(34)} ${["direct", "bosun", "haproxy"].map((t) => (values[t] ?? "-").padStart(12)).join(" ")}`,
        );
      console.log(
        `${"".padEnd(34)} ${["direct", "bosun", "haproxy"].map((t) => t.padStart(12)).join(" ")}`,
      );

      for (const streams of [1, 16]) {
        const figures: Record<string, number> = {};
        for (const [name, target] of targets)
          figures[name] = await bulkThroughput(target, streams, durationMs);
        results[`bulkMiBps_${streams}`] = figures;
        row(
          `(a) bulk MiB/s, ${streams} stream(s)`,
          mapValues(figures, (v) => fmt(v, 0)),
        );
      }
      // interleaved slices: on a shared machine the load swings within seconds, and a column
      // measured in one block gets its own luck; slices in turn share it out
      const conns: Record<string, number> = {};
      for (let slice = 0; slice < CONNECTION_SLICES; slice++)
        for (const [name, target] of targets) {
          const r = await newConnectionsPerSecond(target, 64, durationMs / CONNECTION_SLICES);
          conns[name] = (conns[name] ?? 0) + r.perSecond / CONNECTION_SLICES;
        }
      results.newConnectionsPerSec = conns;
      row(
        "(b) new connections/s, 64 at once",
        mapValues(conns, (v) => fmt(v, 0)),
      );
      const latency: Record<string, ReturnType<typeof summarize>> = {};
      for (const [name, target] of targets)
        latency[name] = await keepAliveLatency(target(), samples);
      results.keepAliveLatencyMs = latency;
      row(
        "(c) keep-alive p50 ms",
        mapValues(latency, (v) => fmt(v.p50, 3)),
      );
      row(
        "(c) keep-alive p99 ms",
        mapValues(latency, (v) => fmt(v.p99, 3)),
      );
      const udp: Record<string, number> = {};
      for (const [name, target] of targets.filter(([n]) => n !== "haproxy"))
        udp[name] = (await udpPerSecond(target, 16, durationMs)).perSecond;
      results.udpPerSec = udp;
      row(
        "(d) UDP req/resp/s, 16 flows",
        mapValues(udp, (v) => fmt(v, 0)),
      );

      const ratio = (a: number | undefined, b: number | undefined) =>
        a !== undefined && b !== undefined && b > 0 ? a / b : Number.NaN;
      const bulk1 = results.bulkMiBps_1 as Record<string, number>;
      const bulk16 = results.bulkMiBps_16 as Record<string, number>;
      const ratios = {
        bulk1VsHaproxy: ratio(bulk1.bosun, bulk1.haproxy),
        bulk16VsHaproxy: ratio(bulk16.bosun, bulk16.haproxy),
        newConnectionsVsHaproxy: ratio(conns.bosun, conns.haproxy),
        addedP50Ms: (latency.bosun?.p50 ?? Number.NaN) - (latency.direct?.p50 ?? Number.NaN),
        addedP99Ms: (latency.bosun?.p99 ?? Number.NaN) - (latency.direct?.p99 ?? Number.NaN),
        udpVsDirect: ratio(udp.bosun, udp.direct),
      };
      results.ratios = ratios;
      console.log(
        `\nbosun/haproxy: bulk ×${fmt(ratios.bulk1VsHaproxy, 2)} (1 stream), ×${fmt(ratios.bulk16VsHaproxy, 2)} (16), new connections ×${fmt(ratios.newConnectionsVsHaproxy, 2)}  [target ≥ 0.8]`,
      );
      console.log(
        `latency added by bosun: p50 ${fmt(ratios.addedP50Ms, 3)} ms, p99 ${fmt(ratios.addedP99Ms, 3)} ms  [target p99 ≤ 1 ms]; UDP ×${fmt(ratios.udpVsDirect, 2)} of direct`,
      );
    } finally {
      // SIGTERM: the proxy child deletes its kernel rules before it exits
      for (const c of children) c.kill(c === children[1] ? "SIGTERM" : "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }

  if (options.cluster) {
    console.log("\nstarting a 3-server cluster for (e) and (f) …");
    process.env.BOSUN_PROXY_MODE = options.mode; // the nodes inherit it
    const cluster = await clusterFigures(
      options.quick
        ? { creates: 5, flips: 6, takeovers: 1 }
        : { creates: 20, flips: 20, takeovers: 3 },
    );
    results.cluster = cluster;
    console.log(
      `(e) Service create → answering: p50 ${fmt(cluster.create.p50, 0)} ms, p99 ${fmt(cluster.create.p99, 0)} ms (n=${cluster.create.n}) [target p99 ≤ 100 ms]; of which the cluster IP's allocation: p50 ${fmt(cluster.clusterIPAssigned.p50, 0)} ms, p99 ${fmt(cluster.clusterIPAssigned.p99, 0)} ms`,
    );
    console.log(
      `(e) selector change → traffic following: p50 ${fmt(cluster.follow.p50, 0)} ms, p99 ${fmt(cluster.follow.p99, 0)} ms (n=${cluster.follow.n}) [target p99 ≤ 100 ms]`,
    );
    console.log(
      `(f) holder SIGKILL → cluster IP answering: p50 ${fmt(cluster.takeover.p50, 0)} ms, max ${fmt(cluster.takeover.max, 0)} ms (n=${cluster.takeover.n}) [target ≤ 1 s]`,
    );
  }
  if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
}

function mapValues<T>(o: Record<string, T>, f: (v: T) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}

const program = new Command()
  .option("--json <file>", "write the figures as JSON")
  .option("--quick", "shorter runs", false)
  .option("--no-cluster", "skip (e) and (f), which start a cluster")
  .option("--no-data-plane", "skip (a) to (d)")
  .option("--proxy-mode <mode>", "bosun's proxy mode: iptables, nftables or userspace", "auto")
  .option("--child <role>", "internal: run as the backends or the proxy")
  .option("--hosts <list>", "internal: the child's addresses")
  .action(
    async (options: {
      json?: string;
      quick: boolean;
      cluster: boolean;
      dataPlane: boolean;
      child?: string;
      hosts?: string;
      proxyMode: string;
    }) => {
      const hosts = (options.hosts ?? "").split(",").filter((h) => h !== "");
      const { mode, fallbackReason } = resolveProxyMode(parseProxyMode(options.proxyMode));
      if (fallbackReason !== null && options.child === undefined)
        console.log(`userspace mode: ${fallbackReason}`);
      if (options.child === "backends") return runBackends(hosts);
      if (options.child === "proxy") return runBosunProxy(hosts[0] as string, hosts.slice(1), mode);
      await main({ ...options, mode });
      process.exit(0);
    },
  );
if (process.argv[1] === THIS_FILE) await program.parseAsync(process.argv);
