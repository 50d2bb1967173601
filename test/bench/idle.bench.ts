/**
 * `npm run bench:idle [-- --servers N] [--no-workloads] [--settle-s S] [--window-s S] [--json FILE]`:
 * what an idle cluster costs (issue 19: "inspection costs nothing measurable when no one is
 * watching"). Starts a `bosun up` cluster from the bundle (what production runs) on its own
 * loopback addresses and run dir, lets it settle, then over the window reads each node's CPU
 * (utime + stime from /proc) and how many inspection records its ring took (`inspectionSeq` of
 * `/status`). Prints CPU ms per second per node, records per second per node, and which actors
 * and events the newest records came from. The cluster is stopped with `bosun down --purge` (and
 * its nodes killed by pid if that fails) in `finally`.
 *
 * The machine is shared: the load average is printed with every figure.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { SystemClock, sleep } from "../../actors/system/clock.ts";
import type { InspectionPage } from "../../actors/system/inspection-ring.ts";
import { baseUrl, type ClusterFile, readClusterFile } from "../../cmd/cluster-file.ts";
import { BOSUN_DIST } from "../../cmd/node-runtime.ts";
import { randomLoopbackBase } from "../support/loopback.ts";
import { killAll, runBosun } from "../support/processes.ts";
import { processCpuMs } from "./proc-usage.ts";

interface Options {
  servers: string;
  workloads: boolean;
  settleS: string;
  windowS: string;
  json?: string;
}

const clock = new SystemClock();

/** Records read back per node to say where they come from (the ring's newest, a page at a time). */
const SAMPLE_RECORDS = 10_000;
const PAGE_RECORDS = 1_000;
/** Sources printed per node. */
const TOP_SOURCES = 20;

interface NodeFigures {
  id: string;
  cpuMsPerS: number;
  recordsPerS: number;
  meshFramesPerS: number;
  topSources: { source: string; records: number }[];
}

interface StatusFigures {
  inspectionSeq: number;
  links: Record<string, { sentFrames?: number }>;
}

/** Mesh frames a node has sent to all its peers. */
function sentFrames(status: StatusFigures | undefined): number {
  return Object.values(status?.links ?? {}).reduce((sum, l) => sum + (l.sentFrames ?? 0), 0);
}

async function nodeStatus(cluster: ClusterFile, id: string): Promise<StatusFigures> {
  const node = cluster.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id}`);
  const res = await fetch(`${baseUrl(node)}/status`);
  return (await res.json()) as StatusFigures;
}

/** The newest records of a node's ring, counted by actor (children folded in), kind and event. */
async function topSources(
  cluster: ClusterFile,
  id: string,
  nextSeq: number,
): Promise<NodeFigures["topSources"]> {
  const node = cluster.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id}`);
  const counts = new Map<string, number>();
  let since = Math.max(1, nextSeq - SAMPLE_RECORDS);
  while (since < nextSeq) {
    const url = `${baseUrl(node)}/inspect/events?since=${since}&limit=${PAGE_RECORDS}`;
    const page = (await (await fetch(url)).json()) as InspectionPage;
    for (const r of page.records) {
      if (r.seq >= nextSeq) break;
      const key = `${r.address} ${r.kind.slice("@xstate.".length)} ${r.eventType ?? ""}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (page.nextSeq <= since) break;
    since = page.nextSeq;
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_SOURCES)
    .map(([source, records]) => ({ source, records }));
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

async function main(): Promise<void> {
  const options = new Command()
    .option("--servers <n>", "server nodes", "3")
    .option("--no-workloads", "no controllers, scheduler or kubelets")
    .option("--settle-s <s>", "seconds to let the cluster settle after it is up", "10")
    .option("--window-s <s>", "seconds measured", "30")
    .option("--json <file>", "write the figures as JSON")
    .parse()
    .opts<Options>();
  if (!existsSync(BOSUN_DIST)) throw new Error(`no ${BOSUN_DIST}: run npm run build first`);
  const runDir = mkdtempSync(join(tmpdir(), "bosun-idle-"));
  const env = { BOSUN_RUN_DIR: runDir };
  const entry = [BOSUN_DIST];
  let cluster: ClusterFile | undefined;
  try {
    const upArgs = ["up", "--servers", options.servers, "--base-ip", randomLoopbackBase(9)];
    if (!options.workloads) upArgs.push("--no-workloads");
    const up = await runBosun(upArgs, env, entry);
    if (up.code !== 0) throw new Error(`bosun up failed (${up.code}):\n${up.stdout}${up.stderr}`);
    cluster = readClusterFile(runDir);
    await sleep(clock, Number(options.settleS) * 1000);
    const ids = cluster.nodes.map((n) => n.id);
    const pids = cluster.nodes.map((n) => n.pid ?? 0);
    const start = performance.now();
    const cpu0 = pids.map(processCpuMs);
    const seq0 = await Promise.all(ids.map((id) => nodeStatus(cluster as ClusterFile, id)));
    await sleep(clock, Number(options.windowS) * 1000);
    const cpu1 = pids.map(processCpuMs);
    const seq1 = await Promise.all(ids.map((id) => nodeStatus(cluster as ClusterFile, id)));
    const seconds = (performance.now() - start) / 1000;
    const figures: NodeFigures[] = [];
    for (const [i, id] of ids.entries()) {
      figures.push({
        id,
        cpuMsPerS: ((cpu1[i] ?? 0) - (cpu0[i] ?? 0)) / seconds,
        recordsPerS: ((seq1[i]?.inspectionSeq ?? 0) - (seq0[i]?.inspectionSeq ?? 0)) / seconds,
        meshFramesPerS: (sentFrames(seq1[i]) - sentFrames(seq0[i])) / seconds,
        topSources: await topSources(cluster, id, seq1[i]?.inspectionSeq ?? 1),
      });
    }
    const mode = options.workloads ? "with workloads" : "--no-workloads";
    console.log(`idle ${cluster.nodes.length}-server cluster, ${mode}, ${seconds.toFixed(1)} s`);
    for (const f of figures) {
      console.log(
        `  ${f.id}: ${f.cpuMsPerS.toFixed(1)} ms CPU/s, ${f.recordsPerS.toFixed(1)} inspection records/s, ${f.meshFramesPerS.toFixed(1)} mesh frames sent/s`,
      );
    }
    const total = figures.reduce((s, f) => s + f.cpuMsPerS, 0);
    console.log(`  total: ${total.toFixed(1)} ms CPU/s   (load average ${load()})`);
    for (const f of figures) {
      console.log(`  ${f.id}'s newest ${SAMPLE_RECORDS} records by source:`);
      for (const s of f.topSources)
        console.log(`    ${String(s.records).padStart(5)}  ${s.source}`);
    }
    if (options.json) writeFileSync(options.json, JSON.stringify({ mode, figures, load: load() }));
  } finally {
    await runBosun(["down", "--purge"], env, entry);
    // whatever down left running, and a node still closing its store could write into the run
    // dir after the purge: gone, both, before the run dir is
    await killAll(cluster?.nodes.map((n) => n.pid) ?? []);
    rmSync(runDir, { recursive: true, force: true });
  }
}

await main();
