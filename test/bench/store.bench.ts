/**
 * `npm run bench:store [-- --vs etcd | --only bosun|etcd] [--duration-ms MS] [--runs N]
 * [--failover-rounds N] [--parts puts,reads,watch,failover] [--runtime dist|tsx] [--json FILE]`:
 * bosun's replicated store beside etcd (Debian's etcd-server 3.4, 3 members, its v3 JSON gateway,
 * driven by undici's pooled `request`) on this machine, one system after the other in the same
 * invocation: sequential puts, 64 concurrent writers, linearizable prefix reads, watch latency,
 * failover after kill -9 and SIGSTOP of the leader, peak RSS per member (bosun's nodes run the
 * dist/ bundle, built first, unless `--runtime tsx`), and for every throughput workload the CPU
 * per acknowledged operation of the bench process (the clients) and of the members summed (from
 * /proc, independent of the client). Prints medians over runs side by side with the ratio
 * bosun/etcd, and writes every figure as JSON.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command, Option } from "commander";
import { buildBundle } from "../../cmd/build.ts";
import { DEFAULT_ELECTION_TICKS, DEFAULT_TICK_INTERVAL_MS } from "../../cmd/node/server-role.ts";
import { randomLoopbackBase } from "../support/loopback.ts";
import { median, summarize } from "./stats.ts";
import { BosunCluster, type BosunTimings } from "./store/bosun-cluster.ts";
import { ETCD_DEFAULT_TIMINGS, EtcdCluster, type EtcdTimings } from "./store/etcd-cluster.ts";
import type { BenchCluster, ClientPolicy } from "./store/kv-bench-client.ts";
import {
  concurrentPuts,
  type FailoverFigures,
  failover,
  peakRssMiB,
  prefixReads,
  sequentialPuts,
  type Throughput,
  VALUE_BYTES,
  type WatchFigures,
  watchLatency,
} from "./store/workloads.ts";

type System = "etcd" | "bosun";

const CONCURRENT_CLIENTS = 64;
const READ_CLIENTS = 16;
const WATCHERS = 100;
const WATCH_PUTS = 100;
/** Equal election settings: 50 ms heartbeat, 500 ms election timeout (both randomize up to 2x). */
const EQUAL_ETCD: EtcdTimings = { heartbeatMs: 50, electionMs: 500 };
const EQUAL_BOSUN: BosunTimings = { tickMs: 50, electionTicks: 10 };

interface Options {
  vs: string;
  only?: System;
  durationMs: string;
  runs: string;
  failoverRounds: string;
  failoverWriters: string;
  requestTimeoutMs: string;
  failoverTimeoutMs: string;
  parts: string;
  runtime: "dist" | "tsx";
  json?: string;
}

const PARTS = ["puts", "reads", "watch", "failover"] as const;
type Part = (typeof PARTS)[number];

const NO_THROUGHPUT: Throughput = {
  opsPerSec: Number.NaN,
  p50Ms: Number.NaN,
  p99Ms: Number.NaN,
  ops: 0,
  errors: 0,
  clientCpuMsPerOp: Number.NaN,
  serverCpuMsPerOp: Number.NaN,
};
const NO_WATCH: WatchFigures = { p50Ms: Number.NaN, p99Ms: Number.NaN, events: 0, missed: 0 };
const NO_FAILOVER: FailoverFigures = { windowsMs: [], p50Ms: Number.NaN, p99Ms: Number.NaN };

function parseParts(list: string): Set<Part> {
  const parts = new Set<Part>();
  for (const name of list.split(",")) {
    if (!(PARTS as readonly string[]).includes(name))
      throw new Error(`--parts: unknown part ${name} (known: ${PARTS.join(", ")})`);
    parts.add(name as Part);
  }
  return parts;
}

interface RunFigures {
  sequential: Throughput;
  concurrent: Throughput;
  reads: Throughput;
  watch: WatchFigures;
  peakRssMiB: number[];
  killAtDefaults: FailoverFigures;
  killAtEqual: FailoverFigures;
  stopAtEqual: FailoverFigures;
}

// ---- processes: whatever is running is stopped on exit, Ctrl-C and errors ---------------------

const active = new Set<BenchCluster>();
const tempDirs = new Set<string>();

async function stopAll(): Promise<void> {
  await Promise.allSettled([...active].map((c) => c.stop()));
  active.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on("exit", () => {
  for (const c of active) c.killNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every etcd and bosun process this bench started…`);
    stopAll().finally(() => process.exit(130));
  });
}

async function startCluster(system: System, equal: boolean): Promise<BenchCluster> {
  if (system === "etcd") {
    const dir = mkdtempSync(join(tmpdir(), "bosun-bench-etcd-"));
    tempDirs.add(dir);
    const etcd = new EtcdCluster(
      randomLoopbackBase(3),
      dir,
      equal ? EQUAL_ETCD : ETCD_DEFAULT_TIMINGS,
    );
    active.add(etcd);
    await etcd.start();
    return etcd;
  }
  const bosun = await BosunCluster.start(equal ? EQUAL_BOSUN : {});
  active.add(bosun);
  return bosun;
}

async function stopCluster(cluster: BenchCluster): Promise<void> {
  await cluster.stop();
  active.delete(cluster);
}

function step(system: System, what: string): () => void {
  const t = performance.now();
  process.stdout.write(`  ${system}: ${what}…`);
  return () => console.log(` ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

async function runSystem(system: System, o: Options): Promise<RunFigures> {
  const durationMs = Number(o.durationMs);
  const rounds = Number(o.failoverRounds);
  const writers = Number(o.failoverWriters);
  const loadPolicy: ClientPolicy = { requestTimeoutMs: Number(o.requestTimeoutMs) };
  const failoverPolicy: ClientPolicy = { requestTimeoutMs: Number(o.failoverTimeoutMs) };

  const parts = parseParts(o.parts);
  let done = step(system, "start (equal settings)");
  const equal = await startCluster(system, true);
  done();
  let figures: Omit<RunFigures, "killAtDefaults">;
  try {
    let sequential = NO_THROUGHPUT;
    let concurrent = NO_THROUGHPUT;
    let reads = NO_THROUGHPUT;
    let watch = NO_WATCH;
    let killAtEqual = NO_FAILOVER;
    let stopAtEqual = NO_FAILOVER;
    if (parts.has("puts")) {
      done = step(system, "sequential puts");
      sequential = await sequentialPuts(equal, durationMs, loadPolicy);
      done();
      done = step(system, `${CONCURRENT_CLIENTS} concurrent writers`);
      concurrent = await concurrentPuts(equal, CONCURRENT_CLIENTS, durationMs, loadPolicy);
      done();
    }
    if (parts.has("reads")) {
      done = step(system, `load 10k keys, ${READ_CLIENTS} readers`);
      reads = await prefixReads(equal, READ_CLIENTS, durationMs, loadPolicy);
      done();
    }
    if (parts.has("watch")) {
      done = step(system, `${WATCHERS} watchers`);
      watch = await watchLatency(equal, WATCHERS, WATCH_PUTS, loadPolicy);
      done();
    }
    // before any failover: a restarted member starts a fresh high-water mark
    const rss = peakRssMiB(equal.memberPids());
    if (parts.has("failover")) {
      done = step(system, `kill -9 leader ×${rounds} (equal)`);
      killAtEqual = await failover(equal, rounds, "SIGKILL", writers, failoverPolicy);
      done();
      done = step(system, `SIGSTOP leader ×${rounds} (equal)`);
      stopAtEqual = await failover(equal, rounds, "SIGSTOP", writers, failoverPolicy);
      done();
    }
    figures = { sequential, concurrent, reads, watch, peakRssMiB: rss, killAtEqual, stopAtEqual };
  } finally {
    await stopCluster(equal);
  }
  if (!parts.has("failover")) return { ...figures, killAtDefaults: NO_FAILOVER };

  done = step(system, "start (its defaults)");
  const defaults = await startCluster(system, false);
  done();
  try {
    done = step(system, `kill -9 leader ×${rounds} (defaults)`);
    const killAtDefaults = await failover(defaults, rounds, "SIGKILL", writers, failoverPolicy);
    done();
    return { ...figures, killAtDefaults };
  } finally {
    await stopCluster(defaults);
  }
}

// ---- the table ---------------------------------------------------------------------------------

interface Row {
  metric: string;
  better: "higher" | "lower";
  etcd: number;
  bosun: number;
  /** bosun / etcd */
  ratio: number;
}

type Pick = (f: RunFigures) => number;

function medianOver(runs: RunFigures[], pick: Pick): number {
  return runs.length === 0 ? Number.NaN : median(runs.map(pick));
}

/** Failover windows of every round of every run, pooled: 5 rounds a run give a thin p99. */
function pooled(runs: RunFigures[], key: "killAtDefaults" | "killAtEqual" | "stopAtEqual") {
  return summarize(runs.flatMap((r) => r[key].windowsMs));
}

function buildRows(etcd: RunFigures[], bosun: RunFigures[]): Row[] {
  const rows: Row[] = [];
  const add = (metric: string, better: Row["better"], e: number, b: number) =>
    rows.push({ metric, better, etcd: e, bosun: b, ratio: b / e });
  const throughput = (label: string, key: "sequential" | "concurrent" | "reads") => {
    add(
      `${label}: ops/s`,
      "higher",
      medianOver(etcd, (f) => f[key].opsPerSec),
      medianOver(bosun, (f) => f[key].opsPerSec),
    );
    add(
      `${label}: p50 ms`,
      "lower",
      medianOver(etcd, (f) => f[key].p50Ms),
      medianOver(bosun, (f) => f[key].p50Ms),
    );
    add(
      `${label}: p99 ms`,
      "lower",
      medianOver(etcd, (f) => f[key].p99Ms),
      medianOver(bosun, (f) => f[key].p99Ms),
    );
    add(
      `${label}: server CPU ms/op (all members)`,
      "lower",
      medianOver(etcd, (f) => f[key].serverCpuMsPerOp),
      medianOver(bosun, (f) => f[key].serverCpuMsPerOp),
    );
    add(
      `${label}: client CPU ms/op (bench process)`,
      "lower",
      medianOver(etcd, (f) => f[key].clientCpuMsPerOp),
      medianOver(bosun, (f) => f[key].clientCpuMsPerOp),
    );
  };
  throughput("sequential puts, 1 client", "sequential");
  throughput(`${CONCURRENT_CLIENTS} clients × ${VALUE_BYTES} B puts`, "concurrent");
  throughput(`lin. 10-key prefix reads, ${READ_CLIENTS} clients`, "reads");
  add(
    `watch put→event, ${WATCHERS} watchers: p50 ms`,
    "lower",
    medianOver(etcd, (f) => f.watch.p50Ms),
    medianOver(bosun, (f) => f.watch.p50Ms),
  );
  add(
    `watch put→event, ${WATCHERS} watchers: p99 ms`,
    "lower",
    medianOver(etcd, (f) => f.watch.p99Ms),
    medianOver(bosun, (f) => f.watch.p99Ms),
  );
  const fail = (label: string, key: "killAtDefaults" | "killAtEqual" | "stopAtEqual") => {
    const e = pooled(etcd, key);
    const b = pooled(bosun, key);
    add(`${label}: p50 ms`, "lower", e.p50, b.p50);
    add(`${label}: p99 ms`, "lower", e.p99, b.p99);
  };
  fail(
    `kill -9 leader → 1st ack, each at defaults (etcd ${ETCD_DEFAULT_TIMINGS.heartbeatMs}/${ETCD_DEFAULT_TIMINGS.electionMs} ms, bosun ${DEFAULT_TICK_INTERVAL_MS} ms×${DEFAULT_ELECTION_TICKS})`,
    "killAtDefaults",
  );
  fail(`kill -9 leader → 1st ack, equal (50/500 ms, 50 ms×10)`, "killAtEqual");
  fail(`SIGSTOP leader → 1st ack, equal`, "stopAtEqual");
  add(
    "peak RSS per member (VmHWM), max: MiB",
    "lower",
    medianOver(etcd, (f) => Math.max(...f.peakRssMiB)),
    medianOver(bosun, (f) => Math.max(...f.peakRssMiB)),
  );
  add(
    "peak RSS per member (VmHWM), mean: MiB",
    "lower",
    medianOver(etcd, (f) => mean(f.peakRssMiB)),
    medianOver(bosun, (f) => mean(f.peakRssMiB)),
  );
  return rows;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function fmt(x: number): string {
  if (!Number.isFinite(x)) return "—";
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 100) return x.toFixed(1);
  return x.toFixed(2);
}

function verdict(row: Row): string {
  if (!Number.isFinite(row.ratio)) return "";
  const bosunBetter = row.better === "higher" ? row.ratio > 1 : row.ratio < 1;
  const factor = row.ratio >= 1 ? row.ratio : 1 / row.ratio;
  if (factor < 1.05) return "≈ even";
  return `${bosunBetter ? "bosun" : "etcd"} ${factor.toFixed(1)}× better`;
}

function renderTable(rows: Row[]): string {
  const header = ["metric", "etcd", "bosun", "bosun/etcd", "better is", "so"];
  const cells = rows.map((r) => [
    r.metric,
    fmt(r.etcd),
    fmt(r.bosun),
    fmt(r.ratio),
    r.better,
    verdict(r),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => (c[i] as string).length)),
  );
  const line = (c: string[]) =>
    c
      .map((x, i) =>
        i === 0 || i >= 4 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number),
      )
      .join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

function gitDescription(): { commit: string; dirtyFiles: number } {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["status", "--short", "--untracked-files=no"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return { commit, dirtyFiles: dirty.split("\n").filter(Boolean).length };
  } catch {
    return { commit: "unknown", dirtyFiles: -1 };
  }
}

async function main(o: Options): Promise<void> {
  if (o.vs !== "etcd") throw new Error(`--vs: the only peer is etcd, got ${o.vs}`);
  // production runs the bundle; the nodes this bench starts run what --runtime names
  if (o.runtime === "dist") {
    await buildBundle();
    process.env.BOSUN_NODE_RUNTIME = "dist";
  } else process.env.BOSUN_NODE_RUNTIME = "tsx";
  const systems: System[] = o.only ? [o.only] : ["etcd", "bosun"];
  const runs = Number(o.runs);
  const perRun: Record<System, RunFigures[]> = { etcd: [], bosun: [] };
  const started = performance.now();
  console.log(
    `store bench: ${systems.join(" then ")}, ${runs} run(s) of ${o.durationMs} ms per workload, ` +
      `${o.failoverRounds} failover rounds per setting; bosun nodes run ${o.runtime}; ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}`,
  );
  for (let r = 0; r < runs; r++) {
    console.log(`run ${r + 1}/${runs}`);
    for (const system of systems) perRun[system].push(await runSystem(system, o));
  }
  const seconds = (performance.now() - started) / 1000;
  const rows = buildRows(perRun.etcd, perRun.bosun);
  console.log(
    `\nmedians of ${runs} run(s) (failover: p50/p99 over all rounds of all runs); ` +
      `clients retry with a ${o.requestTimeoutMs} ms attempt deadline (failover ${o.failoverTimeoutMs} ms, ` +
      `${o.failoverWriters} writers); took ${seconds.toFixed(0)} s\n`,
  );
  console.log(renderTable(rows));
  for (const system of systems) {
    const errors = perRun[system].map(
      (f) => f.sequential.errors + f.concurrent.errors + f.reads.errors,
    );
    const missed = perRun[system].map((f) => f.watch.missed);
    console.log(
      `${system}: request errors per run ${errors.join(", ")}; watch events missed ${missed.join(", ")}`,
    );
  }
  if (o.json) {
    const report = {
      bench: "store",
      date: new Date().toISOString(),
      git: gitDescription(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
      options: o,
      settings: {
        equal: { etcd: EQUAL_ETCD, bosun: EQUAL_BOSUN },
        defaults: {
          etcd: ETCD_DEFAULT_TIMINGS,
          bosun: { tickMs: DEFAULT_TICK_INTERVAL_MS, electionTicks: DEFAULT_ELECTION_TICKS },
        },
        valueBytes: VALUE_BYTES,
      },
      seconds,
      rows,
      runs: perRun,
    };
    writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`figures written to ${o.json}`);
  }
}

const program = new Command("bench:store")
  .description("bosun's replicated store beside a 3-member etcd on this machine")
  .option("--vs <system>", "the peer measured in the same run", "etcd")
  .addOption(new Option("--only <system>", "measure one system only").choices(["bosun", "etcd"]))
  .option("--duration-ms <ms>", "length of each throughput workload", "10000")
  .option("--runs <n>", "runs; the table shows medians", "3")
  .option("--failover-rounds <n>", "leader kills per setting per run", "5")
  .option("--failover-writers <n>", "warmed writers started one after another after the kill", "8")
  .option("--request-timeout-ms <ms>", "clients' per-attempt deadline under load", "5000")
  .option("--failover-timeout-ms <ms>", "clients' per-attempt deadline in failover rounds", "500")
  .addOption(
    new Option(
      "--runtime <runtime>",
      "what bosun's nodes run: the dist/ bundle (built first) or the sources through tsx",
    )
      .choices(["dist", "tsx"])
      .default("dist"),
  )
  .option(
    "--parts <list>",
    `workloads to run, comma-separated (${PARTS.join(",")})`,
    PARTS.join(","),
  )
  .option("--json <file>", "write every figure as JSON");

program.parse();
main(program.opts<Options>())
  .then(async () => {
    await stopAll();
    process.exit(0);
  })
  .catch(async (error: unknown) => {
    console.error(
      `\nstore bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    await stopAll();
    process.exit(1);
  });
