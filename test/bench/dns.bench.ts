/**
 * `npm run bench:dns [-- --seconds N]`: bosun's cluster DNS beside Unbound (Debian's `unbound`,
 * one thread like bosun's one event loop) answering the same names as `local-data`, both driven
 * by Debian's `dnsperf` in the same run, on loopback:
 *
 *   (a) queries/s, A for 50 Service names (dnsperf, 4 clients)   (target: ≥ 0.5× Unbound, ≥ 15,000)
 *   (b) latency p50/p99, one query at a time from this process   (reported beside Unbound's)
 *   (c) Service create (the API's answer) → the name resolving, p50/p99 (target: p99 ≤ 100 ms)
 *
 * Starts a real 3-server cluster and asks one server's DNS server directly (not through the
 * kube-dns cluster IP, which adds the proxy's hop).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import dnsPacket from "dns-packet";
import { apiRequest, kubectlOk } from "../integration/apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "../integration/workloads/workload-harness.ts";
import { udpAsk } from "../support/dns.ts";
import { LocalCluster } from "../support/local-cluster.ts";
import { waitFor } from "../support/wait.ts";
import { summarize } from "./stats.ts";

const now = () => performance.now();
const SERVICES = 50;
const CREATE_SAMPLES = 30;
const LATENCY_QUERIES = 2_000;
const UNBOUND_PORT = 15_353;

/** One UDP query; resolves with the answer's rcode and first A record, or null on timeout. */
async function ask(
  host: string,
  port: number,
  name: string,
  id: number,
): Promise<{ rcode: string; a: string | null } | null> {
  const query = dnsPacket.encode({ type: "query", id, questions: [{ name, type: "A" }] });
  const reply = await udpAsk(query, host, port, 1_000);
  if (reply === null) return null;
  const a = reply.answers?.find((r) => r.type === "A");
  return {
    rcode: reply.rcode ?? "?",
    a: a && "data" in a && typeof a.data === "string" ? a.data : null,
  };
}

interface DnsperfRun {
  qps: number;
  /** Queries dnsperf gave up on (each holds one of its outstanding slots until its timeout). */
  lost: number;
  averageMs: number;
}

function dnsperf(host: string, port: number, queryFile: string, seconds: number): DnsperfRun {
  const run = spawnSync(
    "dnsperf",
    [
      "-s",
      host,
      "-p",
      String(port),
      "-d",
      queryFile,
      "-l",
      String(seconds),
      "-c",
      "4",
      "-Q",
      "100000",
    ],
    {
      encoding: "utf8",
    },
  );
  const qps = /Queries per second:\s+([\d.]+)/.exec(run.stdout)?.[1];
  if (qps === undefined) throw new Error(`dnsperf failed: ${run.stdout}\n${run.stderr}`);
  const lost = /Queries lost:\s+(\d+)/.exec(run.stdout)?.[1] ?? "?";
  const latency = /Average Latency \(s\):\s+([\d.]+)/.exec(run.stdout)?.[1] ?? "?";
  return { qps: Number(qps), lost: Number(lost), averageMs: Number(latency) * 1_000 };
}

async function latencies(
  host: string,
  port: number,
  names: string[],
): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_QUERIES; i++) {
    const started = now();
    await ask(host, port, names[i % names.length] ?? "", i & 0xffff);
    samples.push(now() - started);
  }
  return summarize(samples);
}

function startUnbound(dir: string, host: string, names: Map<string, string>): ChildProcess {
  const conf = join(dir, "unbound.conf");
  const data = [...names].map(([name, ip]) => `  local-data: "${name}. 5 IN A ${ip}"`).join("\n");
  writeFileSync(
    conf,
    `server:
  interface: ${host}
  port: ${UNBOUND_PORT}
  num-threads: 1
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: "${join(dir, "unbound.pid")}"
  use-syslog: no
  access-control: 127.0.0.0/8 allow
  local-zone: "cluster.local." static
${data}
`,
  );
  return spawn("unbound", ["-d", "-c", conf], { stdio: "ignore" });
}

async function main(): Promise<void> {
  const options = new Command()
    .option("--seconds <n>", "dnsperf run length", "10")
    .parse()
    .opts<{ seconds: string }>();
  const seconds = Number(options.seconds);
  const dir = mkdtempSync(join(tmpdir(), "bosun-dns-bench-"));
  const cluster = await LocalCluster.start(3, [], true);
  let unbound: ChildProcess | null = null;
  try {
    await waitForReadyNodes(cluster, 3);
    const host = cluster.cluster.nodes[0]?.host ?? "";
    const slice = await waitFor("kube-dns endpoints", async () => {
      const out = await kubectlOk(cluster, [
        "get",
        "endpointslice",
        "kube-dns",
        "-n",
        "kube-system",
        "-o",
        "json",
      ]);
      const s = JSON.parse(out) as { endpoints?: unknown[]; ports?: { port: number }[] };
      return (s.endpoints ?? []).length === 3 ? s : undefined;
    });
    const port = slice.ports?.[0]?.port ?? 53;
    const yaml = Array.from(
      { length: SERVICES },
      (_, i) =>
        `apiVersion: v1\nkind: Service\nmetadata: { name: svc-${i} }\nspec: { ports: [{ port: 80 }] }\n`,
    ).join("---\n");
    await kubectlOk(cluster, ["apply", "-f", "-"], yaml);
    const names = new Map<string, string>();
    for (let i = 0; i < SERVICES; i++) {
      const name = `svc-${i}.default.svc.cluster.local`;
      const reply = await waitFor(`${name} to resolve`, () =>
        ask(host, port, name, i).then((r) => r?.a ?? undefined),
      );
      names.set(name, reply);
    }
    const queryFile = join(dir, "queries.txt");
    writeFileSync(queryFile, [...names.keys()].map((n) => `${n} A`).join("\n"));
    unbound = startUnbound(dir, host, names);
    const first = [...names][0] ?? ["", ""];
    await waitFor("unbound to answer", () =>
      ask(host, UNBOUND_PORT, first[0], 1).then((r) => r?.a === first[1]),
    );

    const bosunQps = dnsperf(host, port, queryFile, seconds);
    const unboundQps = dnsperf(host, UNBOUND_PORT, queryFile, seconds);
    const list = [...names.keys()];
    const bosunLatency = await latencies(host, port, list);
    const unboundLatency = await latencies(host, UNBOUND_PORT, list);

    const created: number[] = [];
    for (let i = 0; i < CREATE_SAMPLES; i++) {
      const name = `fresh-${i}`;
      const res = await apiRequest(cluster, "POST", "/api/v1/namespaces/default/services", {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name },
        spec: { ports: [{ port: 80 }] },
      });
      if (res.code !== 201) throw new Error(`create ${name}: ${res.code} ${res.text}`);
      const started = now();
      await waitFor(
        `${name} to resolve`,
        () =>
          ask(host, port, `${name}.default.svc.cluster.local`, i).then(
            (r) => r?.rcode === "NOERROR",
          ),
        10_000,
        1,
      );
      created.push(now() - started);
    }
    const create = summarize(created);
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    const perf = (run: DnsperfRun) =>
      `${run.qps.toFixed(0)} (lost ${run.lost}, mean ${run.averageMs.toFixed(2)} ms)`;
    console.log(
      `(a) queries/s   bosun ${perf(bosunQps)}   unbound ${perf(unboundQps)}   ratio ${(bosunQps.qps / unboundQps.qps).toFixed(2)}× (target ≥ 0.5×, ≥ 15,000/s)`,
    );
    console.log(
      `(b) latency     bosun p50 ${ms(bosunLatency.p50)} p99 ${ms(bosunLatency.p99)}   unbound p50 ${ms(unboundLatency.p50)} p99 ${ms(unboundLatency.p99)}`,
    );
    console.log(
      `(c) create → resolvable   p50 ${ms(create.p50)} p99 ${ms(create.p99)} (n=${create.n}, target p99 ≤ 100 ms)`,
    );
  } finally {
    unbound?.kill("SIGTERM");
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
