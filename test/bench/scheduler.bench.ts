/**
 * Scheduler throughput, in process: the queue and the framework (default profile) placing
 * 10,000 pods on 1,000 fake nodes, each decision assumed into the cache as the actor does.
 * No API, no binding I/O. Run: `npx tsx test/bench/scheduler.bench.ts [--nodes N] [--pods N]`.
 */
import type { JsonObject } from "../../actors/api/json.ts";
import { DEFAULT_PROFILE } from "../../actors/scheduler/default-profile.ts";
import { schedulePod, seededRandom } from "../../actors/scheduler/framework.ts";
import { SchedulerCache } from "../../actors/scheduler/scheduler-cache.ts";
import { SchedulingQueue } from "../../actors/scheduler/scheduling-queue.ts";
import { SystemClock } from "../../actors/system/clock.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const NODES = arg("--nodes", 1_000);
const PODS = arg("--pods", 10_000);
const clock = new SystemClock();

function fakeNode(i: number): JsonObject {
  const taints = i % 10 === 0 ? [{ key: "dedicated", value: "infra", effect: "NoSchedule" }] : [];
  return {
    metadata: {
      name: `node-${i}`,
      labels: {
        "kubernetes.io/hostname": `node-${i}`,
        zone: `z${i % 3}`,
        disk: i % 2 ? "ssd" : "hdd",
      },
    },
    spec: { taints },
    status: { allocatable: { cpu: "32", memory: "128Gi", pods: "110" } },
  };
}

/** A mix: plain pods, node selectors, preferred node affinity, and anti-affinity spreading. */
function fakePod(i: number): JsonObject {
  const spec: JsonObject = {
    containers: [
      { name: "c", image: "i", resources: { requests: { cpu: "250m", memory: "512Mi" } } },
    ],
  };
  if (i % 4 === 1) spec.nodeSelector = { disk: "ssd" };
  if (i % 4 === 2)
    spec.affinity = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 50,
            preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z1"] }] },
          },
        ],
      },
    };
  if (i % 50 === 3)
    spec.affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchLabels: { app: `app-${i % 7}` } },
            topologyKey: "kubernetes.io/hostname",
          },
        ],
      },
    };
  return {
    metadata: {
      name: `pod-${i}`,
      namespace: "default",
      labels: { app: `app-${i % 7}` },
      creationTimestamp: new Date(1_700_000_000_000 + i).toISOString(),
    },
    spec,
  };
}

function run(): void {
  const cache = new SchedulerCache();
  for (let i = 0; i < NODES; i++) cache.setNode(fakeNode(i));
  const queue = new SchedulingQueue();
  const startMs = clock.nowMs();
  for (let i = 0; i < PODS; i++) queue.add(fakePod(i), 0);
  const enqueuedMs = clock.nowMs();
  const random = seededRandom(1);
  let bound = 0;
  let unschedulable = 0;
  for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
    const r = schedulePod(DEFAULT_PROFILE, p.info, cache, random);
    if (r.ok) {
      cache.assume(p.info, r.nodeName);
      queue.done(p.info.key);
      bound++;
    } else {
      queue.requeueUnschedulable(p, 0);
      unschedulable++;
    }
  }
  const endMs = clock.nowMs();
  const seconds = (endMs - enqueuedMs) / 1000;
  const result = {
    nodes: NODES,
    pods: PODS,
    bound,
    unschedulable,
    enqueueMs: Math.round(enqueuedMs - startMs),
    scheduleMs: Math.round(endMs - enqueuedMs),
    podsPerSecond: Math.round(PODS / seconds),
  };
  console.log(JSON.stringify(result));
}

run();
