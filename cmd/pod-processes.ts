/**
 * The pod processes of a local cluster, found through the pid files its kubelets keep in each
 * node's data dir (`<dataDir>/kubelet/pods/<uid>/pids/<container>.pid`, see
 * actors/kubelet/pid-records.ts). A node that stops gracefully stops its pods itself (within
 * its bounded wind-down); a node that is killed leaves them running, as Kubernetes' containers
 * outlive a dead kubelet, re-parented to init. `bosun down`, `member remove` and the chaos
 * harness stop them here; `bosun status` lists those whose node is down.
 *
 * A pid file is only trusted when its pid is provably the process it recorded (start time and
 * boot in /proc, group leadership: `isSameProcess`, the check a restarted kubelet's re-adoption
 * makes), so a recycled pid — this machine hands pids out again within minutes — is never
 * signalled.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type PidRecord, readPidFiles } from "../actors/kubelet/pid-records.ts";
import {
  currentBootId,
  isSameProcess,
  killGroup,
  liveProcessGroups,
  type ProcStat,
  readProcStat,
} from "../actors/kubelet/process-identity.ts";
import { type Clock, sleep } from "../actors/system/clock.ts";
import type { ClusterFile } from "./cluster-file.ts";

/** One container's main process, as its kubelet recorded it. */
export interface PodProcess {
  nodeId: string;
  record: PidRecord;
}

export interface NodeDataDir {
  nodeId: string;
  dataDir: string;
}

/** How the launcher sees and signals processes: /proc and kill(2), or a fake in unit tests. */
export interface ProcessTable {
  stat(pid: number): ProcStat | null;
  bootId(): string | null;
  /** Process groups with a live (not zombie) member. */
  liveGroups(): Set<number>;
  killGroup(pid: number, signal: NodeJS.Signals): void;
}

export const HOST_PROCESSES: ProcessTable = {
  stat: readProcStat,
  bootId: currentBootId,
  liveGroups: liveProcessGroups,
  killGroup,
};

export interface PodStopOutcome {
  /** Exited after SIGTERM. */
  stopped: PodProcess[];
  /** Still running when the grace period ran out: SIGKILLed. */
  killed: PodProcess[];
  /** Still running after SIGKILL too (stuck in the kernel): the caller must not purge. */
  survivors: PodProcess[];
}

const STOP_POLL_MS = 50;
/** A SIGKILLed process is gone once it is next scheduled; longer means stuck in the kernel. */
const KILL_WAIT_MS = 5_000;

/** Where a node keeps its kubelet's files (pods, pid files, logs, volumes). */
export function kubeletRootDir(dataDir: string): string {
  return join(dataDir, "kubelet");
}

/**
 * The data dir of every node the run dir has seen: the cluster file's members and any
 * `data/<id>` a removed member left behind (its pods are the cluster's too).
 */
export function nodeDataDirs(runDir: string, cluster: ClusterFile): NodeDataDir[] {
  const dirs: NodeDataDir[] = cluster.nodes.map((n) => ({ nodeId: n.id, dataDir: n.dataDir }));
  const known = new Set(dirs.map((d) => d.dataDir));
  const dataRoot = join(runDir, "data");
  let names: string[] = [];
  try {
    names = readdirSync(dataRoot);
  } catch {
    // no data dir yet (or purged)
  }
  for (const name of names.sort()) {
    const dataDir = join(dataRoot, name);
    if (!known.has(dataDir)) dirs.push({ nodeId: name, dataDir });
  }
  return dirs;
}

/** The recorded pod processes that are still the very processes their kubelets started. */
export function findPodProcesses(
  dirs: readonly NodeDataDir[],
  table: ProcessTable = HOST_PROCESSES,
): PodProcess[] {
  const found: PodProcess[] = [];
  const bootId = table.bootId();
  for (const { nodeId, dataDir } of dirs) {
    for (const { record } of readPidFiles(kubeletRootDir(dataDir)).files) {
      if (record !== null && isSameProcess(record, table.stat(record.pid), bootId))
        found.push({ nodeId, record });
    }
  }
  return found;
}

/**
 * Whether a pod process found earlier still runs: its main process, or — once that exited —
 * what is left of its process group (a container's processes die with it: SIGKILL them too).
 */
export function isStillRunning(
  pod: PodProcess,
  table: ProcessTable,
  liveGroups: Set<number>,
): boolean {
  const { record } = pod;
  const stat = table.stat(record.pid);
  if (isSameProcess(record, stat, table.bootId())) return true;
  // exited: gone from /proc, or a zombie its new parent has not reaped yet
  const exited =
    stat === null ||
    (stat.startTime === record.procStart && (stat.state === "Z" || stat.state === "X"));
  return exited && liveGroups.has(record.pid);
}

/**
 * Stops pod processes found by `findPodProcesses` as the kubelet would: SIGTERM to each
 * container's process group, SIGKILL to those still running after `graceMs`; resolves once
 * every one is gone (or is stuck past SIGKILL).
 */
export async function stopPodProcesses(
  clock: Clock,
  pods: readonly PodProcess[],
  graceMs: number,
  table: ProcessTable = HOST_PROCESSES,
): Promise<PodStopOutcome> {
  const outcome: PodStopOutcome = { stopped: [], killed: [], survivors: [] };
  if (pods.length === 0) return outcome;
  const running = (list: readonly PodProcess[]) => {
    const groups = table.liveGroups();
    return list.filter((p) => isStillRunning(p, table, groups));
  };
  for (const pod of pods) table.killGroup(pod.record.pid, "SIGTERM");
  let left = running(pods);
  const graceEnds = clock.nowMs() + graceMs;
  while (left.length > 0 && clock.nowMs() < graceEnds) {
    await sleep(clock, STOP_POLL_MS);
    left = running(left);
  }
  outcome.stopped = pods.filter((p) => !left.includes(p));
  outcome.killed = left;
  for (const pod of left) table.killGroup(pod.record.pid, "SIGKILL");
  const killWaitEnds = clock.nowMs() + KILL_WAIT_MS;
  while (left.length > 0 && clock.nowMs() < killWaitEnds) {
    await sleep(clock, STOP_POLL_MS);
    left = running(left);
  }
  outcome.survivors = left;
  return outcome;
}

/**
 * SIGKILLs every pod process found, at once and synchronously: the last resort of a process on
 * its way out (Ctrl-C of a chaos run), which cannot wait for a grace period.
 */
export function killPodProcesses(
  pods: readonly PodProcess[],
  table: ProcessTable = HOST_PROCESSES,
): void {
  for (const pod of pods) table.killGroup(pod.record.pid, "SIGKILL");
}

/** `default/web-5d8f`, or the pod's uid in the record of an older kubelet (no name in it). */
export function podNameOf(record: PidRecord): string {
  return record.podName !== undefined
    ? `${record.podNamespace ?? "default"}/${record.podName}`
    : record.podUid;
}

/** `default/web-5d8f (echo) pid 1234`: how a pod process is named in the CLI's output. */
export function describePodProcess({ record }: PodProcess): string {
  return `${podNameOf(record)} (${record.containerName}) pid ${record.pid}`;
}

/**
 * Finds the pod processes still running in `dirs` and stops them (`stopPodProcesses`), saying
 * what it does through `log`: what `down`, `member remove` and the chaos harness do once the
 * nodes themselves are stopped (a live kubelet would restart a container stopped under it).
 */
export async function stopLeftoverPods(
  clock: Clock,
  dirs: readonly NodeDataDir[],
  graceMs: number,
  log: (line: string) => void = () => {},
): Promise<PodStopOutcome> {
  const pods = findPodProcesses(dirs);
  if (pods.length > 0) {
    log(`stopping ${pods.length} pod process(es) left running:`);
    for (const pod of pods) log(`  ${pod.nodeId}: ${describePodProcess(pod)}`);
  }
  const outcome = await stopPodProcesses(clock, pods, graceMs);
  if (pods.length > 0) {
    const killed = outcome.killed.length;
    log(
      `pods: ${outcome.stopped.length} stopped` +
        (killed > 0 ? `, ${killed} killed after ${graceMs} ms` : ""),
    );
  }
  for (const pod of outcome.survivors)
    log(`  still running after SIGKILL: ${pod.nodeId}: ${describePodProcess(pod)}`);
  return outcome;
}
