/**
 * A pod's status as Kubernetes reports it, computed from what the pod statechart knows: phase,
 * conditions, containerStatuses, IPs, startTime. Pure: the caller passes the time.
 *
 * Phase (Kubernetes' getPhase): Pending until every container has started at least once;
 * Succeeded / Failed once every container has terminated and none will restart (Failed if any
 * exited non-zero); Running otherwise.
 */
import type { JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import type { ContainerHandle } from "./runtime.ts";

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        reason: string;
        signal?: number;
        startedAt: string;
        finishedAt: string;
        message?: string;
      };
    };

export interface ContainerRecord {
  name: string;
  image: string;
  handle: ContainerHandle | null;
  restartCount: number;
  /** Exponent of the next CrashLoopBackOff (resets after a long healthy run). */
  backoffSteps: number;
  state: ContainerState;
  lastState: ContainerState | null;
  ready: boolean;
  /** Its startup probe passed (or it has none) since it last started. */
  started: boolean;
  /** It was killed by its liveness or startup probe (the next exit is not its own doing). */
  killedByProbe: boolean;
  /** It will not be started again (restartPolicy said no). */
  done: boolean;
}

export interface PodStatusInput {
  containers: ContainerRecord[];
  hostIP: string;
  podIP: string | null;
  startTimeMs: number | null;
  initialized: boolean;
  message?: string | null;
  reason?: string | null;
  /** A phase the kubelet decided (Failed past activeDeadlineSeconds), over the containers'. */
  phase?: string | null;
}

export function podPhase(containers: ContainerRecord[]): string {
  if (containers.length === 0) return "Pending";
  if (containers.every((c) => c.done && "terminated" in c.state)) {
    const failed = containers.some(
      (c) => "terminated" in c.state && c.state.terminated.exitCode !== 0,
    );
    return failed ? "Failed" : "Succeeded";
  }
  const everStarted = containers.every(
    (c) => c.handle !== null || c.restartCount > 0 || "terminated" in c.state,
  );
  return everStarted ? "Running" : "Pending";
}

function condition(type: string, ok: boolean, nowMs: number, reason?: string): JsonObject {
  const c: JsonObject = {
    type,
    status: ok ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: rfc3339(nowMs),
  };
  if (!ok && reason) c.reason = reason;
  return c;
}

export function podStatus(input: PodStatusInput, nowMs: number): JsonObject {
  const phase = input.phase ?? podPhase(input.containers);
  const containersReady = input.containers.length > 0 && input.containers.every((c) => c.ready);
  const status: JsonObject = {
    phase,
    conditions: [
      condition("PodScheduled", true, nowMs),
      condition("Initialized", input.initialized, nowMs),
      condition("ContainersReady", containersReady, nowMs, "ContainersNotReady"),
      condition("Ready", containersReady, nowMs, "ContainersNotReady"),
    ],
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    containerStatuses: input.containers.map(containerStatus),
    qosClass: "BestEffort",
  };
  if (input.podIP) {
    status.podIP = input.podIP;
    status.podIPs = [{ ip: input.podIP }];
  }
  if (input.startTimeMs !== null) status.startTime = rfc3339(input.startTimeMs);
  if (input.reason) status.reason = input.reason;
  if (input.message) status.message = input.message;
  return status;
}

function containerStatus(c: ContainerRecord): JsonObject {
  const status: JsonObject = {
    name: c.name,
    image: c.image,
    imageID: `bosun-catalog://${c.image}`,
    ready: c.ready,
    started: "running" in c.state && c.started,
    restartCount: c.restartCount,
    state: c.state as unknown as JsonObject,
    lastState: (c.lastState ?? {}) as unknown as JsonObject,
  };
  if (c.handle) status.containerID = `bosun://${c.handle.id}`;
  return status;
}

/** Keeps lastTransitionTime of conditions whose status did not change (Kubernetes' rule). */
export function carryTransitionTimes(previous: JsonObject | null, next: JsonObject): JsonObject {
  const before = new Map(
    ((previous?.conditions ?? []) as JsonObject[]).map((c) => [String(c.type), c]),
  );
  const conditions = ((next.conditions ?? []) as JsonObject[]).map((c) => {
    const old = before.get(String(c.type));
    if (!old || old.status !== c.status || old.lastTransitionTime === undefined) return c;
    return { ...c, lastTransitionTime: old.lastTransitionTime };
  });
  return { ...next, conditions };
}
