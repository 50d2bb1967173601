/**
 * The kubelet's stats (its Summary API, stats-protocol.ts): every STATS_SAMPLE_INTERVAL_MS (on
 * the injected clock) each running container's cumulative CPU time and memory are read from
 * the runtime (cgroups, or /proc without them); CPU usage is the rate between the last two
 * samples, as cAdvisor's is. A container sampled once has no rate yet and is left out (as
 * metrics-server leaves out what it scraped once), so a new pod never reads as idle.
 */
import type { ContainerUsage, KubeletSummary, PodUsage } from "../api/stats-protocol.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import type { ContainerHandle, ContainerRuntime } from "./runtime.ts";

/** How often containers are sampled: metrics-server scrapes every 15 s; the HPA test wants faster. */
export const STATS_SAMPLE_INTERVAL_MS = 2_000;

export interface SampledPod {
  namespace: string;
  name: string;
  uid: string;
  containers: ContainerHandle[];
}

interface Sample {
  atMs: number;
  cpuUsageNanos: number;
  memoryBytes: number;
  /** Null until a second sample gives a rate. */
  cpuNanoCores: number | null;
}

export class StatsSampler {
  private readonly samples = new Map<string, Sample>();
  private timer: TimerId | null = null;
  private lastWallMs = 0;

  constructor(
    private readonly deps: {
      runtime: ContainerRuntime;
      clock: Clock;
      nodeName: string;
      pods: () => SampledPod[];
    },
  ) {}

  start(): void {
    this.sample();
  }

  stop(): void {
    if (this.timer !== null) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private sample(): void {
    const { runtime, clock } = this.deps;
    const nowMs = clock.nowMs();
    this.lastWallMs = clock.wallMs();
    const seen = new Set<string>();
    for (const pod of this.deps.pods()) {
      for (const handle of pod.containers) {
        const stats = runtime.containerStats?.(handle) ?? null;
        if (stats === null) continue;
        seen.add(handle.id);
        const previous = this.samples.get(handle.id);
        const elapsedNs = previous ? (nowMs - previous.atMs) * 1e6 : 0;
        const cpuNanoCores =
          previous && elapsedNs > 0
            ? Math.max(0, ((stats.cpuUsageNanos - previous.cpuUsageNanos) / elapsedNs) * 1e9)
            : null;
        this.samples.set(handle.id, {
          atMs: nowMs,
          cpuUsageNanos: stats.cpuUsageNanos,
          memoryBytes: stats.memoryUsageBytes,
          cpuNanoCores,
        });
      }
    }
    for (const id of [...this.samples.keys()]) if (!seen.has(id)) this.samples.delete(id);
    this.timer = clock.setTimeout(() => this.sample(), STATS_SAMPLE_INTERVAL_MS);
  }

  summary(): KubeletSummary {
    const pods: PodUsage[] = [];
    let cpu = 0;
    let memory = 0;
    for (const pod of this.deps.pods()) {
      const containers: ContainerUsage[] = [];
      for (const handle of pod.containers) {
        const sample = this.samples.get(handle.id);
        if (sample === undefined || sample.cpuNanoCores === null) continue;
        containers.push({
          name: handle.containerName,
          cpuNanoCores: Math.round(sample.cpuNanoCores),
          memoryBytes: sample.memoryBytes,
        });
        cpu += sample.cpuNanoCores;
        memory += sample.memoryBytes;
      }
      if (containers.length > 0)
        pods.push({ namespace: pod.namespace, name: pod.name, uid: pod.uid, containers });
    }
    return {
      node: { name: this.deps.nodeName, cpuNanoCores: Math.round(cpu), memoryBytes: memory },
      pods,
      timestampMs: this.lastWallMs,
      windowMs: STATS_SAMPLE_INTERVAL_MS,
    };
  }
}
