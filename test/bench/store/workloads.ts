/**
 * The store benchmark's workloads, run the same way against every system: the table
 * (sequential puts, 64 concurrent writers, linearizable prefix reads, watch latency, failover
 * after kill -9 or SIGSTOP, peak RSS). Benchmarks may read the real clock; tests never do.
 *
 * Same rules for both systems: every client issues one request at a time (a closed loop), every
 * client is warmed with one untimed request first (connection set up, bosun session registered),
 * puts carry 256-byte values, and clients retry with the same policy (`ClientPolicy`).
 */
import { SystemClock, sleep } from "../../../actors/system/clock.ts";
import { measureCpu, peakRssMiBOf } from "../proc-usage.ts";
import { summarize } from "../stats.ts";
import type { BenchCluster, BenchKv, ClientPolicy } from "./kv-bench-client.ts";

const clock = new SystemClock();
const now = () => performance.now();

export const VALUE_BYTES = 256;
const READ_PREFIXES = 1_000;
const KEYS_PER_PREFIX = 10;
const WATCH_PUT_GAP_MS = 10;
const WATCH_DRAIN_MS = 5_000;
/** Give up on a failover round when no write is acknowledged this long after the kill. */
const FAILOVER_GIVE_UP_MS = 30_000;

export interface Throughput {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  errors: number;
  /** CPU of the benchmark process (the clients) per acknowledged operation. */
  clientCpuMsPerOp: number;
  /** CPU of every member, from /proc, summed, per acknowledged operation. */
  serverCpuMsPerOp: number;
}

const filledValue = (fill: number) => new Uint8Array(VALUE_BYTES).fill(fill);

function clients(cluster: BenchCluster, n: number, policy: ClientPolicy): Promise<BenchKv[]> {
  return Promise.all(Array.from({ length: n }, () => cluster.client(policy)));
}

/**
 * Every client runs `op` back to back for `durationMs`; the first (warm-up) op is not timed.
 * CPU is counted over the timed part only, on both sides: this process and every member.
 */
async function closedLoop(
  cluster: BenchCluster,
  all: BenchKv[],
  durationMs: number,
  op: (client: BenchKv, c: number, i: number) => Promise<unknown>,
): Promise<Throughput> {
  await Promise.all(all.map((client, c) => op(client, c, -1)));
  const latencies: number[] = [];
  let errors = 0;
  const start = now();
  const end = start + durationMs;
  const cpu = await measureCpu(cluster.memberPids(), () =>
    Promise.all(
      all.map(async (client, c) => {
        for (let i = 0; now() < end; i++) {
          const t = now();
          try {
            await op(client, c, i);
            latencies.push(now() - t);
          } catch {
            errors++;
          }
        }
      }),
    ),
  );
  const s = summarize(latencies);
  return {
    opsPerSec: s.n / ((now() - start) / 1000),
    p50Ms: s.p50,
    p99Ms: s.p99,
    ops: s.n,
    errors,
    clientCpuMsPerOp: cpu.clientCpuMs / s.n,
    serverCpuMsPerOp: cpu.serverCpuMs / s.n,
  };
}

async function closeAll(all: BenchKv[]): Promise<void> {
  await Promise.all(all.map((c) => c.close()));
}

export async function sequentialPuts(
  cluster: BenchCluster,
  durationMs: number,
  policy: ClientPolicy,
): Promise<Throughput> {
  const all = await clients(cluster, 1, policy);
  const value = filledValue(7);
  try {
    return await closedLoop(cluster, all, durationMs, (c, _, i) =>
      c.put(`seq/${i % 10_000}`, value),
    );
  } finally {
    await closeAll(all);
  }
}

export async function concurrentPuts(
  cluster: BenchCluster,
  n: number,
  durationMs: number,
  policy: ClientPolicy,
): Promise<Throughput> {
  const all = await clients(cluster, n, policy);
  const value = filledValue(9);
  try {
    return await closedLoop(cluster, all, durationMs, (c, k, i) =>
      c.put(`conc/${k}/${i % 1_000}`, value),
    );
  } finally {
    await closeAll(all);
  }
}

const readPrefix = (p: number) => `read/${p.toString().padStart(4, "0")}/`;

/**
 * 10,000 keys under 1,000 prefixes of 10 (loaded by the readers themselves, each a slice, one
 * put at a time); each read is a linearizable range of one prefix.
 */
export async function prefixReads(
  cluster: BenchCluster,
  n: number,
  durationMs: number,
  policy: ClientPolicy,
): Promise<Throughput> {
  const all = await clients(cluster, n, policy);
  const value = filledValue(1);
  try {
    await Promise.all(
      all.map(async (client, c) => {
        for (let p = c; p < READ_PREFIXES; p += all.length) {
          for (let k = 0; k < KEYS_PER_PREFIX; k++) await client.put(`${readPrefix(p)}${k}`, value);
        }
      }),
    );
    return await closedLoop(cluster, all, durationMs, async (c, k, i) => {
      const got = await c.rangePrefix(readPrefix((k * 7_919 + Math.max(0, i)) % READ_PREFIXES));
      if (got !== KEYS_PER_PREFIX) throw new Error(`range returned ${got} keys, wanted 10`);
    });
  } finally {
    await closeAll(all);
  }
}

export interface WatchFigures {
  p50Ms: number;
  p99Ms: number;
  events: number;
  missed: number;
}

/**
 * `watchers` clients watch one prefix; one writer puts, one write at a time with a pause so that
 * delivery is measured, not queueing. Each value is the send time padded to 256 bytes; the
 * latency is put issued → event delivered to each watcher (same process, same clock).
 */
export async function watchLatency(
  cluster: BenchCluster,
  watchers: number,
  puts: number,
  policy: ClientPolicy,
): Promise<WatchFigures> {
  const latencies: number[] = [];
  const all = await clients(cluster, watchers, policy);
  const writer = await cluster.client(policy);
  try {
    await writer.put("watch-warm", filledValue(3)); // warm: not watched
    const cancels = await Promise.all(
      all.map((c) =>
        c.watchPrefix("watch/", (_key, value) => {
          latencies.push(now() - Number(Buffer.from(value).toString().trim()));
        }),
      ),
    );
    for (let i = 0; i < puts; i++) {
      await writer.put(`watch/${i}`, Buffer.from(String(now()).padEnd(VALUE_BYTES, " ")));
      await sleep(clock, WATCH_PUT_GAP_MS);
    }
    const expected = watchers * puts;
    const deadline = now() + WATCH_DRAIN_MS;
    while (latencies.length < expected && now() < deadline) await sleep(clock, 20);
    for (const cancel of cancels) cancel();
    const s = summarize(latencies);
    return { p50Ms: s.p50, p99Ms: s.p99, events: s.n, missed: expected - s.n };
  } finally {
    await closeAll([...all, writer]);
  }
}

export interface FailoverFigures {
  windowsMs: number[];
  p50Ms: number;
  p99Ms: number;
}

/**
 * Kill (SIGKILL) or freeze (SIGSTOP) the leader, then write until a write is acknowledged: the
 * window starts at the signal and ends at the first acknowledged write issued after it.
 * `writers` warmed clients (sessions registered, connected, starting at the leader) start one
 * after another, `requestTimeoutMs / writers` apart, each writing back to back through its own
 * retries, so a fresh attempt begins often and the figure is the cluster's recovery rather than
 * one client's timeout. The member is restarted (or continued) and the cluster settles before
 * the next round.
 */
export async function failover(
  cluster: BenchCluster,
  rounds: number,
  signal: "SIGKILL" | "SIGSTOP",
  writers: number,
  policy: ClientPolicy,
): Promise<FailoverFigures> {
  const windows: number[] = [];
  const staggerMs = policy.requestTimeoutMs / writers;
  for (let r = 0; r < rounds; r++) {
    await cluster.waitHealthy();
    const all = await clients(cluster, writers, policy);
    await Promise.all(all.map((c, k) => c.put(`failover/warm/${k}`, filledValue(5))));
    const leader = await cluster.leaderPid();
    let acknowledgedAt = 0;
    const killedAt = now();
    process.kill(leader, signal);
    try {
      await Promise.all(
        all.map(async (client, k) => {
          await sleep(clock, k * staggerMs);
          for (let i = 0; acknowledgedAt === 0; i++) {
            if (now() - killedAt > FAILOVER_GIVE_UP_MS) {
              throw new Error(`no write acknowledged ${FAILOVER_GIVE_UP_MS} ms after ${signal}`);
            }
            const ok = await client.put(`failover/${r}/${k}/${i}`, filledValue(6)).then(
              () => true,
              () => false,
            );
            if (ok && acknowledgedAt === 0) acknowledgedAt = now();
          }
        }),
      );
      windows.push(acknowledgedAt - killedAt);
    } finally {
      if (signal === "SIGSTOP") process.kill(leader, "SIGCONT");
    }
    if (signal === "SIGKILL") await cluster.restart(leader);
    // writers still retrying (a bosun client whose attempt waits on the frozen leader) finish here
    await closeAll(all);
  }
  await cluster.waitHealthy();
  const s = summarize(windows);
  return { windowsMs: windows, p50Ms: s.p50, p99Ms: s.p99 };
}

/** Peak resident set size (VmHWM) of each member, in MiB. */
export function peakRssMiB(pids: number[]): number[] {
  return pids.map(peakRssMiBOf);
}
