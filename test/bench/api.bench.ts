/**
 * `npm run bench:api [-- --clients N] [--duration-ms MS] [--watchers N] [--fanout-writes N]
 * [--json FILE]`: the Kubernetes API of a real 3-server cluster over HTTPS (the kubeconfig's CA
 * and bearer token), as client-go would use it: N concurrent clients (default 50) spread over
 * the servers doing configmap creates, linearizable gets, lists of a 100-object namespace, and
 * watch delivery under a concurrent write load; then watch fan-out (one write → 500 watchers).
 * Prints throughput and p50/p99 latency per operation beside the targets (mutating p99 ≤ 100 ms,
 * read p99 ≤ 50 ms; Kubernetes' own SLO is 1 s), and writes every figure as JSON.
 *
 * Authorization: `--authorization AlwaysAllow` starts the servers without it (the baseline);
 * with RBAC (the default) the admin token is in `system:masters`, which is allowed before RBAC
 * is asked, so `--user NAME` speaks instead as a user with a client certificate whose every
 * request RBAC evaluates (a ClusterRole for configmaps and namespaces, bound to it).
 *
 * A warm-up (`--warmup-ms`, default 3 s of the same creates and gets, in a namespace of its own)
 * runs first and is not counted: freshly started servers run unoptimised code and open their
 * connections, which is not the steady state the targets are about.
 *
 * `--audit metadata` runs it with every request audited at level Metadata (all stages, to a file
 * in each node's data dir); `--audit compare` runs it without audit, then with, each on a fresh
 * cluster, and prints the two side by side (issue 18's target: at most 10% slower).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { createClientCertificate, pkiPaths } from "../../actors/apiserver/pki.ts";
import { type Credentials, HttpsApi, readCredentials } from "../support/https-api.ts";
import { LocalCluster } from "../support/local-cluster.ts";
import { waitFor } from "../support/wait.ts";
import { summarize } from "./stats.ts";

interface Options {
  authorization: string;
  user?: string;
  clients: string;
  durationMs: string;
  watchers: string;
  fanoutWrites: string;
  json?: string;
  warmupMs: string;
  skipWatch?: boolean;
  audit: string;
}

/** Every request at level Metadata, every stage: the audit cost the target is about. */
const METADATA_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
`;

interface OpFigures {
  op: string;
  clients: number;
  n: number;
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  targetP99Ms: number | null;
  /** CPU time the server processes spent per operation (less sensitive to a busy host than ops/s). */
  serverCpuMsPerOp?: number;
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU milliseconds (user + system) the cluster's node processes have used so far. */
function serverCpuMs(cluster: LocalCluster): number {
  let ticks = 0;
  for (const node of cluster.cluster.nodes) {
    if (node.pid === null) continue;
    // fields after the parenthesised command: state is 3rd, utime 14th, stime 15th of the line
    const stat = readFileSync(`/proc/${node.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / USER_HZ;
}

const now = () => performance.now();

function figures(
  op: string,
  clients: number,
  samples: number[],
  errors: number,
  elapsedMs: number,
  targetP99Ms: number | null,
): OpFigures {
  const s = summarize(samples);
  return {
    op,
    clients,
    n: s.n,
    errors,
    perSecond: (s.n / elapsedMs) * 1000,
    p50Ms: s.p50,
    p99Ms: s.p99,
    maxMs: s.max,
    targetP99Ms,
  };
}

/** `clients` loops running `op` until `durationMs` passes; latency per call. */
async function closedLoop(
  clients: number,
  durationMs: number,
  op: (client: number, n: number) => Promise<boolean>,
): Promise<{ samples: number[]; errors: number; elapsedMs: number }> {
  const samples: number[] = [];
  let errors = 0;
  const start = now();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; now() < deadline; n++) {
        const t = now();
        const ok = await op(c, n).catch(() => false);
        if (ok) samples.push(now() - t);
        else errors++;
      }
    }),
  );
  return { samples, errors, elapsedMs: now() - start };
}

/**
 * A setup request (not measured), tried again when its kept-alive connection was closed under
 * it: on an overloaded host the server's keep-alive timer may close an idle socket just as the
 * client reuses it (`socket hang up`), which is no answer from the API.
 */
async function setupCall<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts || (error as NodeJS.ErrnoException).code !== "ECONNRESET")
        throw error;
    }
  }
}

async function ensureNamespace(api: HttpsApi, name: string): Promise<void> {
  const r = await api.call(api.endpoint(0), "POST", "/api/v1/namespaces", {
    metadata: { name },
  });
  if (r.code !== 201 && r.code !== 409) throw new Error(`namespace ${name}: ${r.code}`);
}

/** The list resourceVersion now: watches start after it, not from the whole history. */
async function currentVersion(api: HttpsApi, namespace: string): Promise<string> {
  const r = await api.call(api.endpoint(0), "GET", `/api/v1/namespaces/${namespace}/configmaps`);
  return String((r.body.metadata as { resourceVersion?: string }).resourceVersion);
}

/**
 * A client certificate for `user` (what `bosun kubeconfig --user` issues) and a ClusterRole
 * allowing what the benchmark does, bound to it by a ClusterRoleBinding, made as the admin.
 */
async function userCredentials(
  cluster: LocalCluster,
  admin: HttpsApi,
  user: string,
): Promise<Credentials> {
  const pki = pkiPaths(cluster.runDir);
  const ca = { certPem: readFileSync(pki.caCert, "utf8"), keyPem: readFileSync(pki.caKey, "utf8") };
  const issued = createClientCertificate(ca, user, ["bench"], cluster.clock.wallMs());
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  for (const [path, object] of [
    [
      `${rbac}/clusterroles`,
      {
        metadata: { name: "bench" },
        rules: [{ verbs: ["*"], apiGroups: [""], resources: ["configmaps", "namespaces"] }],
      },
    ],
    [
      `${rbac}/clusterrolebindings`,
      {
        metadata: { name: "bench" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "bench" },
        subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: user }],
      },
    ],
  ] as const) {
    const r = await admin.call(admin.endpoint(0), "POST", path, object);
    if (r.code !== 201 && r.code !== 409) throw new Error(`${path}: ${r.code}`);
  }
  return {
    ...readCredentials(cluster.runDir),
    token: "",
    clientCert: { cert: issued.certPem, key: issued.keyPem },
  };
}

async function main(o: Options): Promise<void> {
  if (!["off", "metadata", "compare"].includes(o.audit))
    throw new Error(`--audit must be off, metadata or compare, got ${o.audit}`);
  const policyDir = mkdtempSync(join(tmpdir(), "bosun-bench-audit-"));
  const policyFile = join(policyDir, "policy.yaml");
  writeFileSync(policyFile, METADATA_POLICY);
  const auditFlags = ["--audit-policy-file", policyFile];
  try {
    if (o.audit !== "compare") {
      const results = await runPhases(o, o.audit === "metadata" ? auditFlags : []);
      printTable(results);
      if (o.json) writeJson(o, { audit: o.audit, results });
      return;
    }
    const off = await runPhases(o, []);
    const on = await runPhases(o, auditFlags);
    console.log("\naudit off:");
    printTable(off);
    console.log("\naudit at Metadata:");
    printTable(on);
    printComparison(off, on);
    if (o.json) writeJson(o, { audit: "compare", off, on });
  } finally {
    rmSync(policyDir, { recursive: true, force: true });
  }
}

function writeJson(o: Options, figures: Record<string, unknown>): void {
  const out = {
    clients: Number(o.clients),
    durationMs: Number(o.durationMs),
    cpus: cpus().length,
    ...figures,
  };
  writeFileSync(o.json as string, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${o.json}`);
}

/** Audit off and on, per operation: throughput and latency, and how much slower audit makes them. */
function printComparison(off: OpFigures[], on: OpFigures[]): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  console.log(
    `\n${pad("operation", 20)}${pad("ops/s off", 11)}${pad("ops/s on", 11)}${pad("p50 off", 9)}${pad("p50 on", 9)}${pad("p99 off", 9)}${pad("p99 on", 9)}${pad("cpu ms/op off", 15)}${pad("cpu ms/op on", 14)}${pad("cpu cost", 10)}throughput cost (target <= 10%)`,
  );
  for (const a of off) {
    const b = on.find((r) => r.op === a.op);
    if (b === undefined) continue;
    const cost = (1 - b.perSecond / a.perSecond) * 100;
    const cpuOff = a.serverCpuMsPerOp ?? Number.NaN;
    const cpuOn = b.serverCpuMsPerOp ?? Number.NaN;
    const cpuCost = (cpuOn / cpuOff - 1) * 100;
    console.log(
      `${pad(a.op, 20)}${pad(num(a.perSecond, 0), 11)}${pad(num(b.perSecond, 0), 11)}${pad(num(a.p50Ms), 9)}${pad(num(b.p50Ms), 9)}${pad(num(a.p99Ms), 9)}${pad(num(b.p99Ms), 9)}${pad(num(cpuOff, 2), 15)}${pad(num(cpuOn, 2), 14)}${pad(`${num(cpuCost)}%`, 10)}${num(cost)}% ${cost <= 10 ? "ok" : "MISSED"}`,
    );
  }
}

async function runPhases(o: Options, clusterFlags: string[]): Promise<OpFigures[]> {
  const clients = Number(o.clients);
  const durationMs = Number(o.durationMs);
  const watchers = Number(o.watchers);
  const fanoutWrites = Number(o.fanoutWrites);
  console.log(
    `bench:api — 3 servers, ${clients} clients over HTTPS, ${durationMs} ms per phase, audit ${clusterFlags.length > 0 ? "at Metadata" : "off"} (${cpus().length} cpus, load ${loadavg()[0]?.toFixed(2)})`,
  );
  // the node processes inherit it through `bosun up`
  process.env.BOSUN_AUTHORIZATION_MODE = o.authorization;
  console.log(
    `  authorization ${o.authorization}, as ${o.user ?? "the admin token (system:masters)"}`,
  );
  const cluster = await LocalCluster.start(3, clusterFlags);
  const stopCluster = () => cluster.stop();
  const onSignal = () => {
    stopCluster().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const admin = new HttpsApi(readCredentials(cluster.runDir), clients);
  const api = o.user ? new HttpsApi(await userCredentials(cluster, admin, o.user), clients) : admin;
  const results: OpFigures[] = [];
  try {
    await waitFor("the default namespace on every server", async () => {
      for (const ep of admin.endpoints) {
        const r = await admin.call(ep, "GET", "/api/v1/namespaces/default");
        if (r.code !== 200) return false;
      }
      return true;
    });
    await ensureNamespace(api, "bench");
    await ensureNamespace(api, "bench-list");
    await ensureNamespace(api, "bench-watch");
    await ensureNamespace(api, "bench-fanout");
    await ensureNamespace(api, "bench-warmup");
    await closedLoop(clients, Number(o.warmupMs), async (client, n) => {
      const path = "/api/v1/namespaces/bench-warmup/configmaps";
      const r = await api.call(api.endpoint(client), "POST", path, {
        metadata: { name: `w${client}-${n}` },
      });
      const g = await api.call(api.endpoint(client + 1), "GET", `${path}/w${client}-${n}`);
      return r.code === 201 && g.code === 200;
    });

    // creates: each client its own names
    const created: string[][] = Array.from({ length: clients }, () => []);
    let cpu = serverCpuMs(cluster);
    const c = await closedLoop(clients, durationMs, async (client, n) => {
      const name = `c${client}-${n}`;
      const r = await api.call(
        api.endpoint(client),
        "POST",
        "/api/v1/namespaces/bench/configmaps",
        {
          metadata: { name, labels: { client: String(client) } },
          data: { n: String(n) },
        },
      );
      if (r.code === 201) created[client]?.push(name);
      return r.code === 201;
    });
    results.push({
      ...figures("create", clients, c.samples, c.errors, c.elapsedMs, 100),
      serverCpuMsPerOp: (serverCpuMs(cluster) - cpu) / c.samples.length,
    });
    console.log(`  create: ${c.samples.length} done`);

    // gets (linearizable, resourceVersion ""): each client its own objects
    cpu = serverCpuMs(cluster);
    const g = await closedLoop(clients, durationMs, async (client, n) => {
      const mine = created[client] ?? [];
      const name = mine[n % Math.max(1, mine.length)] ?? "none";
      const r = await api.call(
        api.endpoint(client + 1),
        "GET",
        `/api/v1/namespaces/bench/configmaps/${name}`,
      );
      return r.code === 200;
    });
    results.push({
      ...figures("get", clients, g.samples, g.errors, g.elapsedMs, 50),
      serverCpuMsPerOp: (serverCpuMs(cluster) - cpu) / g.samples.length,
    });
    console.log(`  get: ${g.samples.length} done`);

    // lists of a 100-object namespace (linearizable)
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        setupCall(() =>
          api.call(api.endpoint(i), "POST", "/api/v1/namespaces/bench-list/configmaps", {
            metadata: { name: `l${i}` },
            data: { i: String(i) },
          }),
        ),
      ),
    );
    cpu = serverCpuMs(cluster);
    const l = await closedLoop(clients, durationMs, async (client) => {
      const r = await api.call(
        api.endpoint(client),
        "GET",
        "/api/v1/namespaces/bench-list/configmaps",
      );
      return r.code === 200 && (r.body.items as unknown[]).length === 100;
    });
    results.push({
      ...figures("list (100 items)", clients, l.samples, l.errors, l.elapsedMs, 50),
      serverCpuMsPerOp: (serverCpuMs(cluster) - cpu) / l.samples.length,
    });
    console.log(`  list: ${l.samples.length} done`);

    if (!o.skipWatch) await watchPhases();
    async function watchPhases(): Promise<void> {
      // watch: `clients` watchers, `clients` writers; latency from write start to each delivery
      const watchAgent = new Agent({
        ...(o.user ? { ...(await userCredentials(cluster, admin, o.user)).clientCert } : {}),
        ca: readCredentials(cluster.runDir).ca,
        keepAlive: true,
        maxSockets: Infinity,
      });
      const started = new Map<string, number>();
      const delivered: number[] = [];
      const watchFrom = await currentVersion(api, "bench-watch");
      const streams = Array.from({ length: clients }, (_, i) =>
        api.watch(
          api.endpoint(i),
          watchAgent,
          `/api/v1/namespaces/bench-watch/configmaps?watch=true&resourceVersion=${watchFrom}`,
          (e) => {
            const t = started.get(e.object.metadata.name);
            if (e.type === "ADDED" && t !== undefined) delivered.push(now() - t);
          },
        ),
      );
      await Promise.all(streams.map((s) => s.ready));
      const w = await closedLoop(clients, durationMs, async (client, n) => {
        const name = `w${client}-${n}`;
        started.set(name, now());
        const r = await api.call(
          api.endpoint(client),
          "POST",
          "/api/v1/namespaces/bench-watch/configmaps",
          {
            metadata: { name },
          },
        );
        return r.code === 201;
      });
      const expected = w.samples.length * clients;
      await waitFor("every watch event", () => delivered.length >= expected, 60_000).catch(
        () => {},
      );
      for (const s of streams) s.stop();
      results.push(
        figures(
          "watch delivery",
          clients,
          delivered,
          expected - delivered.length,
          w.elapsedMs,
          100,
        ),
      );
      console.log(`  watch: ${delivered.length}/${expected} events`);

      // fan-out: one write → `watchers` watchers, `fanoutWrites` times
      const fanFrom = await currentVersion(api, "bench-fanout");
      const fanout: number[] = [];
      const fanStart = new Map<string, number>();
      let received = 0;
      const fanStreams = Array.from({ length: watchers }, (_, i) =>
        api.watch(
          api.endpoint(i),
          watchAgent,
          `/api/v1/namespaces/bench-fanout/configmaps?watch=true&resourceVersion=${fanFrom}`,
          (e) => {
            const t = fanStart.get(e.object.metadata.name);
            if (e.type === "ADDED" && t !== undefined) {
              fanout.push(now() - t);
              received++;
            }
          },
        ),
      );
      await Promise.all(fanStreams.map((s) => s.ready));
      const fanBegin = now();
      for (let k = 0; k < fanoutWrites; k++) {
        const name = `f${k}`;
        const target = (k + 1) * watchers;
        fanStart.set(name, now());
        await api.call(api.endpoint(k), "POST", "/api/v1/namespaces/bench-fanout/configmaps", {
          metadata: { name },
        });
        await waitFor(`${name} at every watcher`, () => received >= target, 30_000, 2).catch(
          () => {},
        );
      }
      const fanElapsed = now() - fanBegin;
      for (const s of fanStreams) s.stop();
      watchAgent.destroy();
      results.push(
        figures(
          `fan-out 1→${watchers}`,
          watchers,
          fanout,
          fanoutWrites * watchers - fanout.length,
          fanElapsed,
          100,
        ),
      );
    }
  } finally {
    api.close();
    if (api !== admin) admin.close();
    await stopCluster();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return results;
}

function printTable(results: OpFigures[]): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-");
  console.log(
    `\n${pad("operation", 20)}${pad("clients", 9)}${pad("n", 9)}${pad("errors", 8)}${pad("ops/s", 10)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("max ms", 9)}target p99`,
  );
  for (const r of results) {
    const verdict =
      r.targetP99Ms === null
        ? ""
        : `${r.targetP99Ms} ms ${r.p99Ms <= r.targetP99Ms ? "ok" : "MISSED"}`;
    console.log(
      `${pad(r.op, 20)}${pad(String(r.clients), 9)}${pad(String(r.n), 9)}${pad(String(r.errors), 8)}${pad(num(r.perSecond, 0), 10)}${pad(num(r.p50Ms), 9)}${pad(num(r.p99Ms), 9)}${pad(num(r.maxMs), 9)}${verdict}`,
    );
  }
}

const program = new Command("bench:api")
  .option(
    "--authorization <mode>",
    "RBAC or AlwaysAllow (the servers' --authorization-mode)",
    "RBAC",
  )
  .option(
    "--user <name>",
    "speak as this user (a client certificate; RBAC bound) instead of the admin",
  )
  .option("--clients <n>", "concurrent clients", "50")
  .option("--duration-ms <ms>", "length of each phase", "5000")
  .option("--watchers <n>", "watchers for the fan-out phase", "500")
  .option("--fanout-writes <n>", "writes in the fan-out phase", "20")
  .option("--json <file>", "write the figures as JSON")
  .option("--warmup-ms <ms>", "uncounted creates and gets before the phases", "3000")
  .option("--skip-watch", "only create, get and list (e.g. to profile them)")
  .option("--audit <mode>", "off, metadata (every request audited at Metadata), or compare", "off")
  .action(async (o: Options) => {
    await main(o);
  });
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
