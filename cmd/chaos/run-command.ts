/**
 * `bosun chaos run --scenario NAME`: the I/O around `runScenario` — a fresh cluster with fault
 * rules enabled, a client member whose actor system runs the nemesis statechart, the admin
 * endpoint for fault rules, Lease holders read from their Lease objects, and the reports.
 */
import { writeFileSync } from "node:fs";
import { pino } from "pino";
import { LEASES } from "../../actors/client/leader-election.ts";
import { SystemClock } from "../../actors/system/clock.ts";
import type { ClockSkew } from "../../actors/system/skewed-clock.ts";
import type { FaultRule } from "../../transport/faults.ts";
import { ClientNode, meshCaOption } from "../client-node.ts";
import { baseUrl, type ClusterFile } from "../cluster-file.ts";
import { parseDurationMs } from "../node/duration-flag.ts";
import type { NodeStatus } from "../node/introspection.ts";
import { getJson, NODE_REQUEST_TIMEOUT_MS } from "../node-client.ts";
import { planCluster } from "../up.ts";
import { apiPort } from "./api-port.ts";
import { ClusterUnderTest } from "./cluster-under-test.ts";
import { exportHistory } from "./history-export.ts";
import type { RaftView } from "./leader-watcher.ts";
import { IptablesChain } from "./nemesis/iptables-partition.ts";
import { MemberUnreachable } from "./nemesis/nemesis.ts";
import { nemesisRunMachine } from "./nemesis/nemesis-run.ts";
import { renderHtmlReport } from "./report-html.ts";
import { buildScenarioReport, renderScenarioText } from "./scenario-report.ts";
import { runScenario, type ScenarioSettings, type TrackedLease } from "./scenario-run.ts";
import { scenarioByName } from "./scenarios.ts";

export interface RunOptions {
  scenario: string;
  seed: string;
  duration: string;
  faultMs: string;
  quietMs: string;
  servers: string;
  clients: string;
  keys: string;
  runDir?: string;
  baseIp?: string;
  port: string;
  json?: string;
  history?: string;
  report?: string;
  requestTimeoutMs: string;
  readyTimeoutMs: string;
  keep: boolean;
}

export interface RunDeps {
  int: (value: string, flag: string, min: number, max: number) => number;
  freshRunDir: (requested: string | undefined) => { dir: string; temporary: boolean };
  randomLoopbackBase: (servers: number) => string;
  removeRunDir: (dir: string) => void;
}

/** A Lease read may not stall the timeline sampler longer than this (per attempt). */
const LEASE_READ_TIMEOUT_MS = 500;
const LEASE_READ_ATTEMPTS = 2;
/** The API workload's writes: a failed one is recorded as unknown, so a short bound will do. */
const API_REQUEST_TIMEOUT_MS = 2_000;
// The ApiClient sends a write again only where it provably never arrived (a timed-out one
// fails as an unknown outcome), so attempts beyond the first cannot reorder the writer's writes.
const API_ATTEMPTS = 3;

export async function chaosRun(o: RunOptions, deps: RunDeps): Promise<number> {
  const scenario = scenarioByName(o.scenario);
  const servers = deps.int(o.servers, "--servers", 3, 7);
  const { dir: runDir, temporary } = deps.freshRunDir(o.runDir);
  const settings: ScenarioSettings = {
    scenario: scenario.name,
    seed: deps.int(o.seed, "--seed", 0, 2 ** 31),
    servers,
    durationMs: parseDurationMs(o.duration, "--duration"),
    faultMs: parseDurationMs(o.faultMs, "--fault-ms"),
    quietMs: parseDurationMs(o.quietMs, "--quiet-ms"),
    clients: deps.int(o.clients, "--clients", 1, 256),
    keys: deps.int(o.keys, "--keys", 1, 10_000),
    requestTimeoutMs: deps.int(o.requestTimeoutMs, "--request-timeout-ms", 50, 60_000),
    runDir,
  };
  const clock = new SystemClock();
  const plan = planCluster(
    {
      servers: String(servers),
      baseIp: o.baseIp ?? deps.randomLoopbackBase(servers),
      port: o.port,
      runDir,
      faults: true, // network nemeses set fault rules through POST /admin/faults
      foreground: false,
      timeoutMs: o.readyTimeoutMs,
      name: "bosun-chaos",
    },
    runDir,
  );
  const cluster = new ClusterUnderTest(plan, runDir, clock);
  // the run's own chain, so that OS-level partitions touch nothing else on the host
  const firewall = scenario.choices.some((c) => c.nemeses.includes("isolate-iptables"))
    ? IptablesChain.create(`BOSUN-CHAOS-${process.pid}`)
    : null;
  const killOnExit = () => {
    firewall?.remove();
    cluster.killAll();
  };
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: killing the cluster's processes (run dir ${runDir} kept)`);
    firewall?.remove();
    cluster.killAll();
    process.exit(130);
  };
  process.on("exit", killOnExit);
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  let client: ClientNode | null = null;
  let ok = false;
  try {
    console.log(
      `starting ${servers} servers in ${runDir} (scenario ${scenario.name}: ${scenario.description})`,
    );
    cluster.start({ api: true });
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
    member.serveInspection();
    const nemesisActor = member.system.spawn("chaos-nemesis", nemesisRunMachine, {
      supervise: false,
    });
    console.log(
      `the fault windows' statechart: bosun inspect ${member.system.nodeId}/chaos-nemesis ` +
        `--via ${plan.nodes[0]?.id ?? "n1"} --run-dir ${runDir}`,
    );
    const outcome = await runScenario({
      settings,
      scenario,
      cluster,
      clock,
      storeClient: () => member.storeClient(settings.requestTimeoutMs),
      probe: async (id) =>
        (await getJson<NodeStatus>(cluster.node(id), "/status")).raft as RaftView,
      setFaultRules: (id, rules) => postAdmin(plan, id, "/admin/faults", rules),
      setSyncDelay: (id, ms) => postAdmin(plan, id, "/admin/disk-faults", { syncDelayMs: ms }),
      setClockSkew: (id, skew) => postAdmin(plan, id, "/admin/clock-skew", skew),
      addressOf: (id) => cluster.node(id).host,
      firewall,
      leaseHolder: (lease) => readLeaseHolder(member, lease),
      nemesisEvents: (event) => nemesisActor.send(event),
      api: apiPort(
        member.apiClient(API_REQUEST_TIMEOUT_MS, API_ATTEMPTS),
        () => member.storeClient(settings.requestTimeoutMs),
        clock,
      ),
      log: (line) => console.log(line),
    });
    const report = buildScenarioReport(settings, outcome);
    console.log(`\n${renderScenarioText(report)}`);
    if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    if (o.report) writeFileSync(o.report, renderHtmlReport(report));
    if (o.history) {
      writeFileSync(
        o.history,
        `${JSON.stringify(exportHistory(outcome.ops, outcome.storeWrites ?? undefined))}\n`,
      );
    }
    ok = report.ok;
    return ok ? 0 : 1;
  } finally {
    await client?.close().catch(() => undefined);
    await cluster.stop().catch(() => cluster.killAll());
    firewall?.remove();
    process.off("exit", killOnExit);
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    if (temporary && ok && !o.keep) deps.removeRunDir(runDir);
    else console.log(`run dir (logs, data): ${runDir}`);
  }
}

/** One of a member's fault endpoints (the node runs with --faults): rules or disk faults. */
async function postAdmin(
  plan: ClusterFile,
  id: string,
  path: "/admin/faults" | "/admin/disk-faults" | "/admin/clock-skew",
  body: FaultRule[] | { syncDelayMs: number } | ClockSkew,
): Promise<void> {
  const node = plan.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no node ${id}`);
  let res: Response;
  try {
    res = await fetch(`${baseUrl(node)}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${plan.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(NODE_REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new MemberUnreachable(`${id}: POST ${path}: ${(error as Error).message}`);
  }
  if (!res.ok) throw new Error(`${id}: POST ${path} answered ${res.status} ${await res.text()}`);
}

/**
 * The holder of a kube-system Lease, read through the API (as `kubectl get lease` would); null
 * when nobody holds it or the API did not answer in time (a fault may be on).
 */
async function readLeaseHolder(member: ClientNode, lease: TrackedLease): Promise<string | null> {
  const api = member.apiClient(LEASE_READ_TIMEOUT_MS, LEASE_READ_ATTEMPTS);
  const object = (await api.get(LEASES, lease, { namespace: "kube-system" })) as {
    spec?: { holderIdentity?: string };
  };
  const holder = object.spec?.holderIdentity ?? "";
  return holder === "" ? null : holder;
}
