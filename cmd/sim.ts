/**
 * `npm run sim`: runs the deterministic Raft simulator over consecutive seeds.
 *
 *   npm run sim -- --seed 1 --seeds 1000            # seeds 1..1000, alternating 3 and 5 nodes
 *   npm run sim -- --seed 42 --nodes 5 --steps 3000 # replay one seed exactly
 *   npm run sim -- --seed 42 --nodes 5 --verbose    # ... printing every event
 *   npm run sim -- --seeds 100000 --jobs 2          # split over two worker processes
 *   npm run sim -- --replica --seeds 1000           # whole servers (raft/sim/replica), not the core
 *   npm run sim -- --replica --seeds 200 --mutation read-release-off-by-3   # with a planted bug
 *
 * Exits 1 if any seed fails, after printing each failure's trace and replay command.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { Command, InvalidArgumentError } from "commander";
import { SystemClock } from "../actors/system/clock.ts";
import { defaultSimOptions } from "../raft/sim/options.ts";
import {
  isReplicaMutation,
  REPLICA_MUTATIONS,
  type ReplicaMutation,
} from "../raft/sim/replica/mutations.ts";
import { runReplicaSeed } from "../raft/sim/replica/simulation.ts";
import { formatFailure, runSeed } from "../raft/sim/simulator.ts";

/** How often progress is printed. */
const PROGRESS_INTERVAL_MS = 5000;
/** At most this many failure reports are printed in full. */
const MAX_PRINTED_FAILURES = 5;

interface Args {
  seed: number;
  seeds: number;
  nodes: number | undefined;
  steps: number;
  verbose: boolean;
  jobs: number;
  worker: boolean;
  /** Simulate whole servers (Replica, store, store client) instead of the pure core. */
  replica: boolean;
  mutation: ReplicaMutation | undefined;
}

interface SeedSummary {
  seed: number;
  nodes: number;
  ok: boolean;
  /** The linearizability search ran out of budget: neither pass nor fail. */
  linearizabilityUnknown: boolean;
  report: string | null;
  replay: string | null;
  /** What broke, for a failed seed (e.g. "stale read"). */
  property: string | null;
}

function integer(name: string, min: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function nodesFor(args: Args, seed: number): number {
  return args.nodes ?? (seed % 2 === 0 ? 5 : 3);
}

/** Runs one seed; `detail` gets the stats line printed for a single ok seed. */
async function runOne(args: Args, seed: number): Promise<SeedSummary & { detail: string }> {
  const common = { seed, nodes: nodesFor(args, seed), steps: args.steps, verbose: args.verbose };
  const r = args.replica
    ? await runReplicaSeed({ ...common, mutation: args.mutation ?? null })
    : runSeed(common);
  return {
    seed: r.seed,
    nodes: r.nodes,
    ok: r.ok,
    linearizabilityUnknown: r.stats.linearizability === "unknown",
    report: r.ok ? null : formatFailure(r),
    replay: r.failure?.replay ?? null,
    property: r.failure?.property ?? null,
    detail: `${r.nodes} nodes, trace ${r.traceHash}, ${JSON.stringify(r.stats)}`,
  };
}

/** A worker process: runs every `jobs`-th seed and streams one JSON line per seed. */
async function runWorker(args: Args, index: number): Promise<void> {
  for (let i = index; i < args.seeds; i += args.jobs) {
    const { detail: _, ...s } = await runOne(args, args.seed + i);
    process.send!(s);
  }
}

async function runParallel(args: Args, onResult: (s: SeedSummary) => void): Promise<void> {
  const workers = Array.from({ length: args.jobs }, (_, index) => {
    const child = fork(
      process.argv[1]!,
      [
        "--seed",
        String(args.seed),
        "--seeds",
        String(args.seeds),
        "--steps",
        String(args.steps),
        "--jobs",
        String(args.jobs),
        ...(args.nodes !== undefined ? ["--nodes", String(args.nodes)] : []),
        ...(args.replica ? ["--replica"] : []),
        ...(args.mutation !== undefined ? ["--mutation", args.mutation] : []),
        "--worker",
        String(index),
      ],
      { execArgv: process.execArgv },
    );
    child.on("message", (m) => onResult(m as SeedSummary));
    return new Promise<void>((resolve, reject) => {
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`worker ${index} exited ${code}`)),
      );
    });
  });
  await Promise.all(workers);
}

async function main(): Promise<void> {
  const program = new Command("sim")
    .description("deterministic simulation of a bosun Raft cluster under faults")
    .option("--seed <n>", "first seed", integer("--seed", 0), 1)
    .option("--seeds <n>", "how many consecutive seeds", integer("--seeds", 1), 1)
    .option("--nodes <n>", "initial voters, 3 or 5 (default: odd seeds 3, even seeds 5)", (raw) => {
      if (raw !== "3" && raw !== "5") throw new InvalidArgumentError("--nodes must be 3 or 5");
      return Number(raw);
    })
    .option(
      "--steps <k>",
      "simulated ms of faulty workload",
      integer("--steps", 1),
      defaultSimOptions().steps,
    )
    .option("--verbose", "print every event of the run", false)
    .option(
      "--replica",
      "simulate whole servers: the replica layer, MVCC store and store clients (raft/sim/replica)",
      false,
    )
    .option(
      "--mutation <name>",
      `with --replica: plant a bug (${Object.keys(REPLICA_MUTATIONS).join(", ")})`,
      (raw) => {
        if (!isReplicaMutation(raw)) throw new InvalidArgumentError(`unknown mutation ${raw}`);
        return raw;
      },
    )
    .option("--jobs <n>", "worker processes", integer("--jobs", 1), 1)
    .option("--worker <i>", "(internal) run as worker i", integer("--worker", 0))
    .showHelpAfterError();
  program.parse(process.argv);
  const raw = program.opts<Omit<Args, "worker"> & { worker?: number }>();
  const args: Args = { ...raw, worker: raw.worker !== undefined };
  if (args.mutation !== undefined && !args.replica) {
    program.error("--mutation needs --replica");
  }
  if (raw.worker !== undefined) {
    await runWorker(args, raw.worker);
    return;
  }
  const clock = new SystemClock();
  const started = clock.nowMs();
  let lastProgress = started;
  let done = 0;
  let unknown = 0;
  const failures: SeedSummary[] = [];
  const onResult = (s: SeedSummary): void => {
    done++;
    if (s.linearizabilityUnknown) unknown++;
    if (!s.ok) {
      failures.push(s);
      if (failures.length <= MAX_PRINTED_FAILURES) console.log(`\n${s.report}\n`);
      else console.log(`seed ${s.seed} FAILED (${s.property}): ${s.replay}`);
    }
    const now = clock.nowMs();
    if (now - lastProgress >= PROGRESS_INTERVAL_MS) {
      lastProgress = now;
      const rate = done / ((now - started) / 1000);
      console.log(
        `… ${done}/${args.seeds} seeds, ${failures.length} failed, ${rate.toFixed(1)} seeds/s`,
      );
    }
  };
  if (args.jobs > 1 && args.seeds > 1) {
    await runParallel({ ...args, jobs: Math.min(args.jobs, availableParallelism() * 2) }, onResult);
  } else if (args.seeds === 1) {
    const s = await runOne(args, args.seed);
    onResult(s);
    if (s.ok) console.log(`seed ${s.seed} ok: ${s.detail}`);
  } else {
    for (let i = 0; i < args.seeds; i++) onResult(await runOne(args, args.seed + i));
  }
  const seconds = (clock.nowMs() - started) / 1000;
  console.log(
    `\n${done} seeds (${args.seed}..${args.seed + args.seeds - 1}) in ${seconds.toFixed(1)} s` +
      ` (${(done / seconds).toFixed(1)} seeds/s): ${failures.length} failed` +
      (unknown > 0 ? `, ${unknown} with linearizability unknown (search budget)` : ""),
  );
  for (const f of failures) console.log(`  ${f.replay}   # ${f.property}`);
  process.exitCode = failures.length > 0 || done !== args.seeds ? 1 : 0;
}

await main();
