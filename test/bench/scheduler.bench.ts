/**
 * Scheduler throughput, in process: the queue and the framework (default profile) placing
 * 10,000 pods on 1,000 fake nodes, each decision assumed into the cache as the actor does.
 * No API, no binding I/O. Run: `npx tsx test/bench/scheduler.bench.ts [--nodes N] [--pods N]`.
 */
import { pathToFileURL } from "node:url";
import type { JsonObject } from "../../actors/api/json.ts";
import { DEFAULT_PROFILE } from "../../actors/scheduler/default-profile.ts";
import { schedulePod, seededRandom } from "../../actors/scheduler/framework.ts";
import { SchedulerCache } from "../../actors/scheduler/scheduler-cache.ts";
import { SchedulingQueue } from "../../actors/scheduler/scheduling-queue.ts";
import { SystemClock } from "../../actors/system/clock.ts";

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

export interface InProcessSchedulerFigures {
  nodes: number;
  pods: number;
  bound: number;
  unschedulable: number;
  enqueueMs: number;
  scheduleMs: number;
  podsPerSecond: number;
}

/** Places `pods` pods on `nodes` fake nodes through the queue and the default profile. */
export function inProcessSchedulerThroughput(
  nodes = 1_000,
  pods = 10_000,
): InProcessSchedulerFigures {
  const cache = new SchedulerCache();
  for (let i = 0; i < nodes; i++) cache.setNode(fakeNode(i));
  const queue = new SchedulingQueue();
  const startMs = clock.nowMs();
  for (let i = 0; i < pods; i++) queue.add(fakePod(i), 0);
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
  return {
    nodes,
    pods,
    bound,
    unschedulable,
    enqueueMs: Math.round(enqueuedMs - startMs),
    scheduleMs: Math.round(endMs - enqueuedMs),
    podsPerSecond: Math.round(pods / seconds),
  };
}

// run as a script (not when another bench imports the function)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  console.log(
    JSON.stringify(inProcessSchedulerThroughput(arg("--nodes", 1_000), arg("--pods", 10_000))),
  );
}
