/**
 * Pods held at Permit (kube-scheduler's `waitingPodsMap` and `waitingPod`): assumed on a node,
 * their binding cycle waits until every plugin that said "wait" allows it, one rejects it, or
 * the timeout passes (the pod's statechart owns that timer). Plugins reach the other waiting
 * pods through the framework handle: a gang plugin allows the whole group when its last member
 * arrives, and rejects the rest when one of them gives up.
 */
import type { PodInfo } from "./node-info.ts";

export type PermitVerdict = { allowed: true } | { allowed: false; reason: string };

export class WaitingPod {
  private readonly pending: Set<string>;
  private settle: ((verdict: PermitVerdict) => void) | null = null;
  /** Resolves once: allowed by every plugin waited on, or rejected by one. */
  readonly verdict: Promise<PermitVerdict>;

  constructor(
    readonly pod: PodInfo,
    readonly nodeName: string,
    plugins: readonly string[],
  ) {
    this.pending = new Set(plugins);
    this.verdict = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** The plugins still to allow it. */
  pendingPlugins(): string[] {
    return [...this.pending];
  }

  allow(plugin: string): void {
    this.pending.delete(plugin);
    if (this.pending.size === 0) this.finish({ allowed: true });
  }

  reject(plugin: string, message: string): void {
    this.finish({ allowed: false, reason: `rejected by ${plugin}: ${message}` });
  }

  private finish(verdict: PermitVerdict): void {
    const settle = this.settle;
    this.settle = null;
    settle?.(verdict);
  }
}

export class WaitingPods {
  private readonly pods = new Map<string, WaitingPod>();

  add(waiting: WaitingPod): void {
    this.pods.set(waiting.pod.key, waiting);
  }

  get(key: string): WaitingPod | undefined {
    return this.pods.get(key);
  }

  remove(key: string): void {
    this.pods.delete(key);
  }

  all(): IterableIterator<WaitingPod> {
    return this.pods.values();
  }

  get size(): number {
    return this.pods.size;
  }
}
