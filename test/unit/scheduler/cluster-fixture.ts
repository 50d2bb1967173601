/** Node and pod objects for scheduler tests, with the fields the plugins read. */
import { createActor } from "xstate";
import type { JsonObject } from "../../../actors/api/json.ts";
import { type Profile, seededRandom } from "../../../actors/scheduler/framework.ts";
import { newPodInfo, type PodInfo } from "../../../actors/scheduler/node-info.ts";
import { type SchedulerPorts, schedulerMachine } from "../../../actors/scheduler/scheduler.ts";
import { SchedulerCache } from "../../../actors/scheduler/scheduler-cache.ts";
import type { SchedulingQueue } from "../../../actors/scheduler/scheduling-queue.ts";
import type { WaitingPods } from "../../../actors/scheduler/waiting-pods.ts";
import type { ManualClock } from "../../../actors/system/clock.ts";

export interface NodeSpec {
  cpu?: string;
  memory?: string;
  pods?: number;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  unschedulable?: boolean;
}

export function node(name: string, s: NodeSpec = {}): JsonObject {
  const allocatable: JsonObject = { cpu: s.cpu ?? "4", memory: s.memory ?? "8Gi" };
  if (s.pods !== undefined) allocatable.pods = String(s.pods);
  const spec: JsonObject = {};
  if (s.taints) spec.taints = s.taints;
  if (s.unschedulable) spec.unschedulable = true;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...(s.labels ?? {}) } },
    spec,
    status: { allocatable, capacity: allocatable },
  };
}

export interface PodSpec {
  namespace?: string;
  cpu?: string;
  memory?: string;
  labels?: Record<string, string>;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: JsonObject;
  tolerations?: JsonObject[];
  hostPort?: number;
  priority?: number;
  created?: string;
}

export function pod(name: string, s: PodSpec = {}): JsonObject {
  const requests: JsonObject = {};
  if (s.cpu) requests.cpu = s.cpu;
  if (s.memory) requests.memory = s.memory;
  const container: JsonObject = { name: "c", image: "i", resources: { requests } };
  if (s.hostPort) container.ports = [{ containerPort: 80, hostPort: s.hostPort }];
  const spec: JsonObject = { containers: [container], schedulerName: "default-scheduler" };
  if (s.nodeName) spec.nodeName = s.nodeName;
  if (s.nodeSelector) spec.nodeSelector = s.nodeSelector;
  if (s.affinity) spec.affinity = s.affinity;
  if (s.tolerations) spec.tolerations = s.tolerations;
  if (s.priority !== undefined) spec.priority = s.priority;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: s.namespace ?? "default",
      labels: s.labels ?? {},
      creationTimestamp: s.created ?? "2024-01-01T00:00:00Z",
    },
    spec,
    status: { phase: "Pending" },
  };
}

export function cacheOf(nodes: JsonObject[], bound: JsonObject[] = []): SchedulerCache {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.setNode(n);
  for (const p of bound) cache.setPod(p);
  return cache;
}

export const info = (p: JsonObject): PodInfo => newPodInfo(p);

/** The scheduler statechart over fake ports: one profile, caches synced, seeded ties. */
export function startSchedulerActor(parts: {
  queue: SchedulingQueue;
  cache: SchedulerCache;
  waitingPods: WaitingPods;
  profile: Profile;
  clock: ManualClock;
  report: SchedulerPorts["report"];
}) {
  const { profile, clock } = parts;
  const actor = createActor(schedulerMachine, {
    clock,
    input: {
      ...parts,
      profiles: new Map([[profile.schedulerName, profile]]),
      random: seededRandom(1),
      synced: () => true,
    },
  });
  actor.start();
  return actor;
}
