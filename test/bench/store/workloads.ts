/**
 * The store benchmark's workloads, run the same way against every system: the table
 * (sequential puts, 64 concurrent writers, linearizable prefix reads, watch latency, failover
 * after kill -9, peak RSS). Benchmarks may read the real clock; tests never do.
 */
import { readFileSync } from "node:fs";
import { SystemClock, sleep } from "../../../actors/system/clock.ts";
import { summarize } from "../stats.ts";
import type { BenchCluster, BenchKv } from "./kv-bench-client.ts";

const clock = new SystemClock();
const now = () => performance.now();

export interface Throughput {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  errors: number;
}

async function closedLoop(
  clients: BenchKv[],
  durationMs: number,
  op: (client: BenchKv, i: number) => Promise<unknown>,
): Promise<Throughput> {
  const latencies: number[] = [];
  let errors = 0;
  const start = now();
  const end = start + durationMs;
  await Promise.all(
    clients.map(async (client, c) => {
      for (let i = 0; now() < end; i++) {
        const t = now();
        try {
          await op(client, c * 1_000_000 + i);
          latencies.push(now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const s = summarize(latencies);
  return {
    opsPerSec: s.n / ((now() - start) / 1000),
    p50Ms: s.p50,
    p99Ms: s.p99,
    ops: s.n,
    errors,
  };
}

export async function sequentialPuts(
  cluster: BenchCluster,
  durationMs: number,
): Promise<Throughput> {
  const client = await cluster.client();
  const value = new Uint8Array(256).fill(7);
  try {
    return await closedLoop([client], durationMs, (c, i) => c.put(`seq/${i}`, value));
  } finally {
    await client.close();
  }
}

export async function concurrentPuts(
  cluster: BenchCluster,
  clients: number,
  durationMs: number,
): Promise<Throughput> {
  const all = await Promise.all(Array.from({ length: clients }, () => cluster.client()));
  const value = new Uint8Array(256).fill(9);
  try {
    return await closedLoop(all, durationMs, (c, i) => c.put(`conc/${i % 10_000}`, value));
  } finally {
    await Promise.all(all.map((c) => c.close()));
  }
}

/** 10,000 keys under 1,000 prefixes of 10; each read is a linearizable range of one prefix. */
export async function prefixReads(
  cluster: BenchCluster,
  clients: number,
  durationMs: number,
): Promise<Throughput> {
  const loader = await cluster.client();
  const value = new Uint8Array(64).fill(1);
  const pending: Promise<void>[] = [];
  for (let p = 0; p < 1_000; p++) {
    for (let k = 0; k < 10; k++)
      pending.push(loader.put(`read/${p.toString().padStart(4, "0")}/${k}`, value));
    if (pending.length >= 200) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await loader.close();
  const all = await Promise.all(Array.from({ length: clients }, () => cluster.client()));
  try {
    return await closedLoop(all, durationMs, async (c, i) => {
      const n = await c.rangePrefix(`read/${(i % 1_000).toString().padStart(4, "0")}/`);
      if (n !== 10) throw new Error(`range returned ${n} keys, wanted 10`);
    });
  } finally {
    await Promise.all(all.map((c) => c.close()));
  }
}

/** 100 watchers on one prefix; each put carries its send time; latency is put → event. */
export async function watchLatency(
  cluster: BenchCluster,
  watchers: number,
  puts: number,
): Promise<{ p50Ms: number; p99Ms: number; events: number; missed: number }> {
  const latencies: number[] = [];
  const clients = await Promise.all(Array.from({ length: watchers }, () => cluster.client()));
  const cancels = await Promise.all(
    clients.map((c) =>
      c.watchPrefix("watch/", (_key, value) => {
        const sent = Number(Buffer.from(value).toString());
        latencies.push(now() - sent);
      }),
    ),
  );
  const writer = await cluster.client();
  for (let i = 0; i < puts; i++) {
    await writer.put(`watch/${i}`, Buffer.from(String(now())));
    await sleep(clock, 10); // one write at a time: measure delivery, not queueing
  }
  const expected = watchers * puts;
  const deadline = now() + 5_000;
  while (latencies.length < expected && now() < deadline) await sleep(clock, 20);
  for (const cancel of cancels) cancel();
  await Promise.all([...clients, writer].map((c) => c.close()));
  const s = summarize(latencies);
  return { p50Ms: s.p50, p99Ms: s.p99, events: s.n, missed: expected - s.n };
}

/**
 * kill -9 the leader while a writer keeps trying; the window is kill → first acknowledged write.
 * The killed member is restarted and the cluster settles before the next round.
 */
export async function failover(
  cluster: BenchCluster,
  rounds: number,
  signal: "SIGKILL" | "SIGSTOP",
): Promise<{ windowsMs: number[]; p50Ms: number; p99Ms: number }> {
  const windows: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const leader = await cluster.leaderPid();
    const writer = await cluster.client();
    await writer.put("failover/warm", Buffer.from("x"));
    const killedAt = now();
    process.kill(leader, signal);
    for (let i = 0; ; i++) {
      const client = await cluster.client().catch(() => undefined);
      const ok = client
        ? await Promise.race([
            client.put(`failover/${r}/${i}`, Buffer.from("y")).then(
              () => true,
              () => false,
            ),
            sleep(clock, 500).then(() => false),
          ])
        : false;
      await client?.close();
      if (ok) break;
      if (now() - killedAt > 30_000) throw new Error("no write acknowledged 30 s after the kill");
    }
    windows.push(now() - killedAt);
    await writer.close();
    if (signal === "SIGSTOP") process.kill(leader, "SIGCONT");
    else await cluster.restart(leader);
    await sleep(clock, 2_000); // let the restarted member catch up before the next round
  }
  const s = summarize(windows);
  return { windowsMs: windows, p50Ms: s.p50, p99Ms: s.p99 };
}

/** Peak resident set size (VmHWM) of each member, in MiB. */
export function peakRssMiB(pids: number[]): number[] {
  return pids.map((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
      return kb / 1024;
    } catch {
      return Number.NaN;
    }
  });
}
