import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { SystemClock } from "../actors/system/clock.ts";
import { ClusterUnderTest } from "./chaos/cluster-under-test.ts";
import { runFailover } from "./chaos/failover.ts";
import { FAULT_KINDS, isFaultKind } from "./chaos/fault-injector.ts";
import type { ChaosOp } from "./chaos/history.ts";
import { countAnomalies, isClean, type StoreWrite } from "./chaos/history-analysis.ts";
import { checkHistoryFile, exportHistory } from "./chaos/history-export.ts";
import type { RaftView } from "./chaos/leader-watcher.ts";
import { type RunSettings, renderText } from "./chaos/report.ts";
import { chaosRun, type RunOptions } from "./chaos/run-command.ts";
import { SCENARIOS } from "./chaos/scenarios.ts";
import { ClientNode, meshCaOption } from "./client-node.ts";
import type { NodeStatus } from "./node/introspection.ts";
import { getJson } from "./node-client.ts";
import { planCluster } from "./up.ts";

/** `bosun chaos`: break a local cluster on purpose and check what clients saw. */
interface FailoverOptions {
  servers: string;
  rounds: string;
  fault: string;
  clients: string;
  keys: string;
  runDir?: string;
  baseIp?: string;
  port: string;
  json?: string;
  history?: string;
  tickMs?: string;
  electionTicks?: string;
  requestTimeoutMs: string;
  seed: string;
  keep: boolean;
  readyTimeoutMs: string;
}

function int(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${flag} must be an integer in ${min}..${max}, got ${value}`);
  }
  return n;
}

/** A random 127.a.b.c base, so a chaos run never collides with `bosun up` on 127.0.0.11. */
function randomLoopbackBase(servers: number): string {
  return `127.${randomInt(100, 250)}.${randomInt(1, 250)}.${randomInt(1, 250 - servers)}`;
}

function freshRunDir(requested: string | undefined): { dir: string; temporary: boolean } {
  if (requested === undefined) {
    return { dir: mkdtempSync(join(tmpdir(), "bosun-chaos-")), temporary: true };
  }
  const dir = resolve(requested);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`--run-dir ${dir} is not empty: a chaos run starts a fresh cluster`);
  }
  return { dir, temporary: false };
}

async function failover(o: FailoverOptions): Promise<number> {
  if (!isFaultKind(o.fault)) throw new Error(`--fault must be one of ${FAULT_KINDS.join(", ")}`);
  const servers = int(o.servers, "--servers", 3, 7);
  const { dir: runDir, temporary } = freshRunDir(o.runDir);
  const settings: RunSettings = {
    servers,
    fault: o.fault,
    rounds: int(o.rounds, "--rounds", 1, 1000),
    clients: int(o.clients, "--clients", 1, 256),
    keys: int(o.keys, "--keys", 1, 10_000),
    requestTimeoutMs: int(o.requestTimeoutMs, "--request-timeout-ms", 50, 60_000),
    tickMs: o.tickMs === undefined ? null : int(o.tickMs, "--tick-ms", 1, 10_000),
    electionTicks:
      o.electionTicks === undefined ? null : int(o.electionTicks, "--election-ticks", 2, 1000),
    runDir,
  };
  const clock = new SystemClock();
  const plan = planCluster(
    {
      servers: String(servers),
      baseIp: o.baseIp ?? randomLoopbackBase(servers),
      port: o.port,
      runDir,
      faults: false,
      foreground: false,
      timeoutMs: o.readyTimeoutMs,
      name: "bosun-chaos",
      ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
      ...(o.electionTicks === undefined ? {} : { electionTicks: o.electionTicks }),
    },
    runDir,
  );
  const cluster = new ClusterUnderTest(plan, runDir, clock);
  // Whatever happens from here on, the processes this run started die with it.
  const killOnExit = () => cluster.killAll();
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: killing the cluster's processes (run dir ${runDir} kept)`);
    cluster.killAll();
    process.exit(130);
  };
  process.on("exit", killOnExit);
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  let client: ClientNode | null = null;
  let ok = false;
  try {
    console.log(`starting ${servers} servers in ${runDir}`);
    cluster.start();
    await cluster.waitReady(Number(o.readyTimeoutMs));
    client = await ClientNode.connect({
      servers: Object.fromEntries(plan.nodes.map((n) => [n.id, `${n.host}:${n.port}`])),
      token: plan.token,
      clock,
      logger: pino({ level: "silent" }),
      meshTls: plan.meshTls === true,
      // the run dir's CA: the nemesis and the checker act as the cluster's admin
      ...meshCaOption(runDir),
    });
    await client.waitConnected(servers);
    const member = client;
    console.log(`cluster ready; ${settings.clients} clients on ${settings.keys} keys`);
    const report = await runFailover({
      settings,
      cluster,
      clock,
      storeClient: () => member.storeClient(settings.requestTimeoutMs),
      probe: async (id) =>
        (await getJson<NodeStatus>(cluster.node(id), "/status")).raft as RaftView,
      log: (line) => console.log(line),
      seed: int(o.seed, "--seed", 0, 2 ** 31),
      ...(o.history === undefined ? {} : { onHistory: historyWriter(o.history) }),
    });
    console.log(`\n${renderText(report)}`);
    if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    ok = report.ok;
    return ok ? 0 : 1;
  } finally {
    await client?.close().catch(() => undefined);
    await cluster.stop().catch(() => cluster.killAll());
    process.off("exit", killOnExit);
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    if (temporary && ok && !o.keep) rmSync(runDir, { recursive: true, force: true });
    else console.log(`run dir (logs, data): ${runDir}`);
  }
}

/** Writes the exported history (README "Chaos history format") once a run is over. */
function historyWriter(
  file: string,
): (ops: readonly ChaosOp[], storeWrites: readonly StoreWrite[] | null) => void {
  return (ops, storeWrites) => {
    writeFileSync(file, `${JSON.stringify(exportHistory(ops, storeWrites ?? undefined))}\n`);
    console.log(`history (${ops.length} operations) written to ${file}`);
  };
}

/** `bosun chaos check FILE`: the checks of a run, again, on an exported history. */
function checkFile(file: string): number {
  const { ops, verdict, comparedWithStore } = checkHistoryFile(
    JSON.parse(readFileSync(file, "utf8")),
  );
  const lin = verdict.linearizability;
  console.log(`${ops} operations`);
  console.log(
    `linearizable: ${lin.linearizable === true ? "yes" : lin.linearizable === false ? `NO (key ${lin.key})` : `unknown (${lin.reason})`}`,
  );
  if (lin.linearizable === false) console.log(lin.explanation);
  if (comparedWithStore) {
    const c = countAnomalies(verdict);
    console.log(
      `acknowledged writes lost: ${c.lost}; duplicated: ${c.duplicated}; phantom: ${c.phantom}; revision mismatch: ${c.revisionMismatch}`,
    );
  } else {
    console.log("no storeWrites in the file: lost/duplicated writes not checked");
  }
  const ok = isClean(verdict);
  console.log(ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

export function chaosCommand(): Command {
  const chaos = new Command("chaos").description(
    "break a local cluster on purpose and check the client history",
  );
  chaos.addCommand(
    new Command("failover")
      .description(
        "start a fresh local cluster, run a put/get workload, kill or pause the leader each " +
          "round, measure the failover windows, check linearizability and lost/duplicated writes",
      )
      .option("--servers <n>", "server nodes (3 or 5)", "3")
      .option("--rounds <n>", "faults to inject, one per round", "5")
      .option("--fault <kind>", `what happens to the leader: ${FAULT_KINDS.join(" | ")}`, "kill")
      .option("--clients <k>", "concurrent store clients (one session each)", "8")
      .option("--keys <m>", "size of the key space the clients share", "16")
      .option("--run-dir <dir>", "an empty dir for the cluster (default: a new temp dir)")
      .option("--base-ip <ip>", "loopback address of the first node (default: random 127.x.y.z)")
      .option("--port <port>", "port every node listens on", "7100")
      .option("--json <file>", "also write the report as JSON")
      .option("--history <file>", "write every client operation as JSON (README: history format)")
      .option("--tick-ms <ms>", "Raft tick of every node")
      .option("--election-ticks <n>", "Raft election timeout in ticks")
      .option("--request-timeout-ms <ms>", "store client timeout per attempt", "1000")
      .option("--seed <n>", "seed of the workload's key and operation choices", "1")
      .option("--keep", "keep the run dir of a passing run (a failing run's is always kept)", false)
      .option("--ready-timeout-ms <ms>", "how long the cluster may take to start", "60000")
      .action(async (o: FailoverOptions) => {
        // Exit explicitly: a store client's retry timer must not keep a finished run alive.
        process.exit(await failover(o));
      }),
  );
  chaos.addCommand(
    new Command("run")
      .description(
        "start a fresh local cluster (with fault rules enabled), run a put/get workload and the " +
          "scenario's fault windows for the duration, then check the history (linearizable, no " +
          "acknowledged write lost or duplicated) and that the cluster recovered after each window",
      )
      .requiredOption("--scenario <name>", `one of: ${SCENARIOS.map((s) => s.name).join(", ")}`)
      .option("--seed <n>", "seed of the fault schedule and the workload", "1")
      .option("--duration <d>", "how long to keep opening fault windows (30s, 2m, ms)", "30s")
      .option("--fault-ms <d>", "how long each fault stays on", "3s")
      .option("--quiet-ms <d>", "quiet time after each recovery", "1s")
      .option("--servers <n>", "server nodes (3 or 5)", "3")
      .option("--clients <k>", "concurrent store clients (one session each)", "8")
      .option("--keys <m>", "size of the key space the clients share", "16")
      .option("--run-dir <dir>", "an empty dir for the cluster (default: a new temp dir)")
      .option("--base-ip <ip>", "loopback address of the first node (default: random 127.x.y.z)")
      .option("--port <port>", "port every node listens on", "7100")
      .option("--json <file>", "also write the report as JSON")
      .option("--history <file>", "write every client operation as JSON (README: history format)")
      .option("--report <file>", "write the report as one self-contained HTML page")
      .option("--request-timeout-ms <ms>", "store client timeout per attempt", "1000")
      .option("--keep", "keep the run dir of a passing run (a failing run's is always kept)", false)
      .option("--ready-timeout-ms <ms>", "how long the cluster may take to start", "60000")
      .action(async (o: RunOptions) => {
        process.exit(
          await chaosRun(o, {
            int,
            freshRunDir,
            randomLoopbackBase,
            removeRunDir: (dir) => rmSync(dir, { recursive: true, force: true }),
          }),
        );
      }),
  );
  chaos.addCommand(
    new Command("scenarios").description("list the scenarios of chaos run").action(() => {
      for (const s of SCENARIOS) console.log(`${s.name.padEnd(30)} ${s.description}`);
    }),
  );
  chaos.addCommand(
    new Command("check")
      .description(
        "check an exported history (--history) again: linearizability, and lost or duplicated " +
          "writes when the file carries the store's writes",
      )
      .argument("<file>", "a history file in bosun's chaos history format")
      .action((file: string) => {
        process.exit(checkFile(file));
      }),
  );
  return chaos;
}
