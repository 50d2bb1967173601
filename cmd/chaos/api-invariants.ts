/**
 * Kubernetes-level invariants of a chaos run, checked through the API after the last fault has
 * healed:
 * - every acknowledged create, update and delete (ConfigMaps written by an API workload during
 *   the run) is reflected at the end: the object exists with the last acknowledged data, or
 *   with the data of a later write whose outcome is unknown, or is gone after an acknowledged
 *   delete (or an unknown one);
 * - no pod was bound twice to different nodes: in the store's history of every pod (a watch
 *   from revision 1), `spec.nodeName` never changes once set for one pod uid;
 * - a Deployment converges within a bound after healing: as many available replicas, and as
 *   many running pods of it, as it asks for, all of its latest template — the run rolls it
 *   (a template change) in every fault window, so its rolling updates happen under faults —
 *   and that template is the last acknowledged roll (or a later one of unknown outcome);
 * - no two members act as one Lease's holder at once (lease-safety.ts, set by the run).
 *
 * The verdict functions are pure; `ApiWorkload` is the writer loop, driven by the run.
 */
import { type Clock, sleep } from "../../actors/system/clock.ts";
import type { LeaseSafetyVerdict } from "./lease-safety.ts";

/** One ConfigMap write of the API workload; `acked` false: error or timeout, outcome unknown. */
export interface ApiWrite {
  kind: "create" | "update" | "delete";
  name: string;
  /** The data written (create/update). */
  value?: string;
  acked: boolean;
}

export interface ObjectAnomaly {
  name: string;
  expected: string[];
  found: string | null;
}

/**
 * The ConfigMaps the writes imply at the end, against what the API lists. A writer stops
 * writing a name after an unknown outcome, so at most the last write of a name is unknown.
 */
export function checkAcknowledgedWrites(
  writes: readonly ApiWrite[],
  final: ReadonlyMap<string, string>,
): { checked: number; anomalies: ObjectAnomaly[] } {
  const byName = new Map<string, ApiWrite[]>();
  for (const w of writes) {
    const list = byName.get(w.name);
    if (list === undefined) byName.set(w.name, [w]);
    else list.push(w);
  }
  const ABSENT = "(absent)";
  const anomalies: ObjectAnomaly[] = [];
  let checked = 0;
  for (const [name, list] of byName) {
    const lastAcked = list.findLastIndex((w) => w.acked);
    if (lastAcked >= 0) checked++;
    const allowed = new Set<string>();
    const state = (w: ApiWrite | undefined) =>
      w === undefined || w.kind === "delete" ? ABSENT : (w.value ?? "");
    allowed.add(state(list[lastAcked]));
    for (const w of list.slice(lastAcked + 1)) allowed.add(state(w));
    const found = final.get(name);
    const key = found === undefined ? ABSENT : found;
    if (!allowed.has(key)) {
      anomalies.push({ name, expected: [...allowed], found: found ?? null });
    }
  }
  return { checked, anomalies };
}

/** One version of a pod in the store's history. */
export interface PodVersion {
  uid: string;
  name: string;
  nodeName: string | null;
  revision: number;
}

export interface Rebinding {
  name: string;
  uid: string;
  nodes: string[];
}

/** Pods whose `spec.nodeName`, once set, later named another node (bound twice). */
export function checkPodBindings(history: readonly PodVersion[]): {
  pods: number;
  rebound: Rebinding[];
} {
  const nodes = new Map<string, { name: string; nodes: string[] }>();
  for (const v of [...history].sort((a, b) => a.revision - b.revision)) {
    let entry = nodes.get(v.uid);
    if (entry === undefined) {
      entry = { name: v.name, nodes: [] };
      nodes.set(v.uid, entry);
    }
    if (v.nodeName && entry.nodes.at(-1) !== v.nodeName) entry.nodes.push(v.nodeName);
  }
  const rebound = [...nodes]
    .filter(([, e]) => e.nodes.length > 1)
    .map(([uid, e]) => ({ uid, name: e.name, nodes: e.nodes }));
  return { pods: nodes.size, rebound };
}

export interface ApiVerdict {
  configMaps: { written: number; checked: number; anomalies: ObjectAnomaly[] };
  pods: { seen: number; rebound: Rebinding[] };
  deployment: {
    name: string;
    replicas: number;
    converged: boolean;
    convergedAfterMs: number | null;
    last: string;
    /** Template changes (rolling updates) asked for, and any not reflected at the end. */
    rolls: number;
    rollAnomalies: ObjectAnomaly[];
  };
  /** Who acted as each Lease's holder when (from the members' logs), when the run read them. */
  leases?: LeaseSafetyVerdict;
  error?: string;
}

export function isApiClean(v: ApiVerdict): boolean {
  return (
    v.error === undefined &&
    v.configMaps.anomalies.length === 0 &&
    v.pods.rebound.length === 0 &&
    v.deployment.converged &&
    v.deployment.rollAnomalies.length === 0 &&
    (v.leases === undefined || v.leases.overlaps.length === 0)
  );
}

/** A Deployment as the convergence check reads it. */
export interface DeploymentState {
  available: number;
  updated: number;
  /** The controller has seen the latest spec (observedGeneration ≥ generation). */
  observed: boolean;
  /** Running pods of it, not being deleted. */
  running: number;
  /** Of those, how many run another template than the Deployment's (by the roll marker). */
  stale: number;
  /** The roll marker of its template (null: never rolled). */
  roll: string | null;
  /** Every pod of it in a few words (name@node:phase+ready/roll), for a report that fails. */
  pods: string;
}

export function isConverged(s: DeploymentState, replicas: number): boolean {
  return (
    s.observed &&
    s.available === replicas &&
    s.updated === replicas &&
    s.running === replicas &&
    s.stale === 0
  );
}

/** What the API workload needs from the API (a real ApiClient in `bosun chaos run`). */
export interface ApiPort {
  createConfigMap(name: string, value: string): Promise<void>;
  updateConfigMap(name: string, value: string): Promise<void>;
  deleteConfigMap(name: string): Promise<void>;
  /** Every ConfigMap of the workload: name → data. */
  listConfigMaps(): Promise<Map<string, string>>;
  createDeployment(name: string, replicas: number): Promise<void>;
  /** Changes the Deployment's template (its roll marker, an env var): a rolling update. */
  rollDeployment(name: string, roll: string): Promise<void>;
  deploymentState(name: string): Promise<DeploymentState>;
  /** Every version of every pod in the store's history (a watch from revision 1). */
  podHistory(): Promise<PodVersion[]>;
}

/** Updates per object before it is deleted: a create, this many updates, a delete. */
const UPDATES_PER_OBJECT = 3;
/** Most ConfigMaps one run writes. */
export const MAX_API_OBJECTS = 10_000;
/** How long a Deployment may take to converge after healing before it counts as not. */
export const DEPLOYMENT_CONVERGE_BOUND_MS = 60_000;
export const DEPLOYMENT_NAME = "chaos-web";
export const DEPLOYMENT_REPLICAS = 3;
const WRITE_PAUSE_MS = 20;
const CONVERGE_POLL_MS = 200;

/** One writer creating, updating and deleting ConfigMaps while the faults come and go. */
export class ApiWorkload {
  readonly writes: ApiWrite[] = [];
  /** The Deployment's rolls, as writes of its template's roll marker. */
  readonly rolls: ApiWrite[] = [];
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private rolling: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: ApiPort,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.rolling;
  }

  /** Rolls the Deployment to `roll` in the background (after any roll still in flight). */
  roll(roll: string): void {
    if (this.stopping) return;
    this.rolling = this.rolling.then(async () => {
      const entry: ApiWrite = { kind: "update", name: DEPLOYMENT_NAME, value: roll, acked: false };
      this.rolls.push(entry);
      await this.api.rollDeployment(DEPLOYMENT_NAME, roll).then(
        () => {
          entry.acked = true;
        },
        () => undefined, // unknown outcome: the check allows it, or the last acknowledged roll
      );
    });
  }

  private async write(w: Omit<ApiWrite, "acked">, call: () => Promise<void>): Promise<boolean> {
    const entry: ApiWrite = { ...w, acked: false };
    this.writes.push(entry);
    try {
      await call();
      entry.acked = true;
    } catch {
      // unknown outcome: the writer leaves this object alone from now on
    }
    return entry.acked;
  }

  private async run(): Promise<void> {
    for (let n = 1; !this.stopping && n <= MAX_API_OBJECTS; n++) {
      const name = `chaos-cm-${n}`;
      const ok = await this.write({ kind: "create", name, value: "v0" }, () =>
        this.api.createConfigMap(name, "v0"),
      );
      let alive = ok;
      for (let u = 1; alive && u <= UPDATES_PER_OBJECT && !this.stopping; u++) {
        const value = `v${u}`;
        alive = await this.write({ kind: "update", name, value }, () =>
          this.api.updateConfigMap(name, value),
        );
      }
      // Every other object is deleted, so the end state holds both kinds.
      if (alive && n % 2 === 0 && !this.stopping) {
        await this.write({ kind: "delete", name }, () => this.api.deleteConfigMap(name));
      }
      await sleep(this.clock, WRITE_PAUSE_MS);
    }
  }
}

/** After the last heal: the three checks, each bounded. */
export async function checkApiInvariants(
  api: ApiPort,
  workload: ApiWorkload,
  clock: Clock,
): Promise<ApiVerdict> {
  const deployment: ApiVerdict["deployment"] = {
    name: DEPLOYMENT_NAME,
    replicas: DEPLOYMENT_REPLICAS,
    converged: false,
    convergedAfterMs: null,
    last: "not read",
    rolls: workload.rolls.length,
    rollAnomalies: [],
  };
  let roll: string | null = null;
  const verdict: ApiVerdict = {
    configMaps: { written: workload.writes.length, checked: 0, anomalies: [] },
    pods: { seen: 0, rebound: [] },
    deployment,
  };
  try {
    const start = clock.nowMs();
    for (;;) {
      const s = await api.deploymentState(DEPLOYMENT_NAME).catch((e: unknown) => {
        deployment.last = (e as Error).message;
        return null;
      });
      if (s !== null) {
        roll = s.roll;
        deployment.last =
          `${s.available} available, ${s.updated} updated, ${s.running} running` +
          ` (${s.stale} of an older template), roll ${s.roll ?? "none"}` +
          (s.observed ? "" : ", latest spec not yet observed") +
          `; pods ${s.pods}`;
        if (isConverged(s, DEPLOYMENT_REPLICAS)) {
          deployment.converged = true;
          deployment.convergedAfterMs = clock.nowMs() - start;
          break;
        }
      }
      if (clock.nowMs() - start >= DEPLOYMENT_CONVERGE_BOUND_MS) break;
      await sleep(clock, CONVERGE_POLL_MS);
    }
    const rolled = new Map(roll === null ? [] : [[DEPLOYMENT_NAME, roll]]);
    deployment.rollAnomalies = checkAcknowledgedWrites(workload.rolls, rolled).anomalies;
    const { checked, anomalies } = checkAcknowledgedWrites(
      workload.writes,
      await api.listConfigMaps(),
    );
    verdict.configMaps.checked = checked;
    verdict.configMaps.anomalies = anomalies;
    const pods = checkPodBindings(await api.podHistory());
    verdict.pods = { seen: pods.pods, rebound: pods.rebound };
  } catch (e) {
    verdict.error = (e as Error).message;
  }
  return verdict;
}
