/**
 * kube-scheduler's PriorityQueue (`internal/queue/scheduling_queue.go`), three sub-queues:
 * - active: pods to try now, highest `spec.priority` first, then oldest `creationTimestamp`;
 * - backoff: pods that failed and wait out their backoff (1 s doubling per attempt, at most
 *   10 s) before going back to active;
 * - unschedulable: pods no node fits; they stay until a cluster event (a node added or changed,
 *   a pod deleted) might make them fit, or for at most UNSCHEDULABLE_MAX_MS.
 * A pod that failed while such an event happened during its attempt goes to backoff, not
 * unschedulable (kube's moveRequestCycle), so that the event is not lost.
 * Pure: time comes in as `nowMs` arguments; the scheduler actor owns the timer.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { BinaryHeap } from "./binary-heap.ts";
import { newPodInfo, type PodInfo } from "./node-info.ts";

export const POD_INITIAL_BACKOFF_MS = 1_000;
export const POD_MAX_BACKOFF_MS = 10_000;
/** kube's `podMaxInUnschedulablePodsDuration`. */
export const UNSCHEDULABLE_MAX_MS = 5 * 60_000;
/** Pods held across the three sub-queues; past this, `add` refuses (the caller logs it). */
export const QUEUE_MAX_PODS = 200_000;

export type SubQueue = "active" | "backoff" | "unschedulable" | "inFlight";

export interface QueuedPod {
  info: PodInfo;
  priority: number;
  createdMs: number;
  /** Scheduling attempts so far (each pop is one). */
  attempts: number;
  /** When the current backoff ends. */
  backoffUntilMs: number;
  /** When the pod went unschedulable. */
  unschedulableSinceMs: number;
  /** The scheduling cycle the pod was popped in. */
  cycle: number;
}

export function podBackoffMs(attempts: number): number {
  if (attempts <= 0) return 0;
  return Math.min(POD_INITIAL_BACKOFF_MS * 2 ** (attempts - 1), POD_MAX_BACKOFF_MS);
}

function createdMsOf(pod: JsonObject): number {
  const t = Date.parse(asString(asObject(pod.metadata).creationTimestamp));
  return Number.isNaN(t) ? 0 : t;
}

/** Active order: higher priority, then older, then key (so equal pods pop reproducibly). */
export function activeBefore(a: QueuedPod, b: QueuedPod): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.createdMs !== b.createdMs) return a.createdMs < b.createdMs;
  return a.info.key < b.info.key;
}

interface HeapEntry {
  pod: QueuedPod;
  generation: number;
}

export class SchedulingQueue {
  private readonly pods = new Map<
    string,
    { pod: QueuedPod; where: SubQueue; generation: number }
  >();
  private readonly active = new BinaryHeap<HeapEntry>((a, b) => activeBefore(a.pod, b.pod));
  private readonly backoff = new BinaryHeap<HeapEntry>(
    (a, b) => a.pod.backoffUntilMs < b.pod.backoffUntilMs,
  );
  /**
   * The unschedulable pods, in the order they became so (so by `unschedulableSinceMs`): what a
   * cluster event or the leftover flush looks at, without walking every queued pod (10,000
   * pending pods, and a node update every few milliseconds at 1,000 nodes).
   */
  private readonly unschedulable = new Map<string, QueuedPod>();
  private generation = 0;
  private schedulingCycle = 0;
  private moveRequestCycle = -1;

  /** A new pending pod (or a newer version of one already queued). False when full. */
  add(pod: JsonObject, nowMs: number): boolean {
    const info = newPodInfo(pod);
    const existing = this.pods.get(info.key);
    if (existing) {
      this.update(pod, nowMs);
      return true;
    }
    if (this.pods.size >= QUEUE_MAX_PODS) return false;
    const queued: QueuedPod = {
      info,
      priority: info.priority,
      createdMs: createdMsOf(pod),
      attempts: 0,
      backoffUntilMs: 0,
      unschedulableSinceMs: 0,
      cycle: 0,
    };
    this.pushActive(queued);
    return true;
  }

  /** A pod changed: its new version; an unschedulable pod gets another try (kube does too). */
  update(pod: JsonObject, nowMs: number): void {
    const info = newPodInfo(pod);
    const entry = this.pods.get(info.key);
    if (!entry) {
      this.add(pod, nowMs);
      return;
    }
    entry.pod.info = info;
    entry.pod.priority = info.priority;
    if (entry.where === "unschedulable") this.moveToActiveOrBackoff(entry.pod, nowMs);
    else if (entry.where === "active") this.pushActive(entry.pod); // re-ordered by new priority
  }

  delete(key: string): void {
    this.pods.delete(key);
    this.unschedulable.delete(key);
  }

  has(key: string): boolean {
    return this.pods.has(key);
  }

  where(key: string): SubQueue | undefined {
    return this.pods.get(key)?.where;
  }

  /** Whether `pop` would return a pod. */
  hasActive(): boolean {
    for (;;) {
      const top = this.active.peek();
      if (!top) return false;
      const entry = this.pods.get(top.pod.info.key);
      if (entry?.where === "active" && entry.generation === top.generation) return true;
      this.active.pop();
    }
  }

  /** The next pod to schedule (it is then in flight until `done` or a requeue), if any. */
  pop(): QueuedPod | undefined {
    for (;;) {
      const top = this.active.pop();
      if (!top) return undefined;
      const entry = this.pods.get(top.pod.info.key);
      if (entry?.where !== "active" || entry.generation !== top.generation) continue;
      entry.where = "inFlight";
      entry.pod.attempts++;
      entry.pod.cycle = ++this.schedulingCycle;
      return entry.pod;
    }
  }

  /** The pod was bound (or left the queue's concern): forget it. */
  done(key: string): void {
    this.delete(key);
  }

  /** No node fits: unschedulable, or backoff when a cluster event came during the attempt. */
  requeueUnschedulable(pod: QueuedPod, nowMs: number): void {
    const entry = this.pods.get(pod.info.key);
    if (!entry || entry.pod !== pod) return; // deleted (or replaced) while in flight
    if (this.moveRequestCycle >= pod.cycle) {
      this.pushBackoff(pod, nowMs);
      return;
    }
    pod.unschedulableSinceMs = nowMs;
    // the backoff runs from the failure, so an event right after it still waits it out
    pod.backoffUntilMs = nowMs + podBackoffMs(pod.attempts);
    this.set(pod, "unschedulable");
  }

  /** An error (binding failed, API unavailable): retry after the backoff. */
  requeueAfterError(pod: QueuedPod, nowMs: number): void {
    const entry = this.pods.get(pod.info.key);
    if (!entry || entry.pod !== pod) return;
    this.pushBackoff(pod, nowMs);
  }

  /**
   * A cluster event that may make unschedulable pods fit (kube's MoveAllToActiveOrBackoffQueue):
   * each goes to active, or to backoff while its backoff lasts.
   */
  moveAllToActiveOrBackoff(nowMs: number): void {
    for (const pod of [...this.unschedulable.values()]) this.moveToActiveOrBackoff(pod, nowMs);
    this.moveRequestCycle = this.schedulingCycle;
  }

  /** Backoffs that ended go to active; pods unschedulable too long get another try. */
  flush(nowMs: number): void {
    for (;;) {
      const top = this.backoff.peek();
      if (!top || top.pod.backoffUntilMs > nowMs) break;
      this.backoff.pop();
      const entry = this.pods.get(top.pod.info.key);
      if (entry?.where !== "backoff" || entry.generation !== top.generation) continue;
      this.pushActive(entry.pod);
    }
    const leftover: QueuedPod[] = [];
    for (const pod of this.unschedulable.values()) {
      if (nowMs - pod.unschedulableSinceMs < UNSCHEDULABLE_MAX_MS) break; // the rest are newer
      leftover.push(pod);
    }
    for (const pod of leftover) this.moveToActiveOrBackoff(pod, nowMs);
  }

  /** When the next backoff ends (for the caller's timer), or null. */
  nextBackoffEndMs(): number | null {
    for (;;) {
      const top = this.backoff.peek();
      if (!top) return null;
      const entry = this.pods.get(top.pod.info.key);
      if (entry && entry.where === "backoff" && entry.generation === top.generation)
        return top.pod.backoffUntilMs;
      this.backoff.pop();
    }
  }

  sizes(): Record<SubQueue, number> {
    const out: Record<SubQueue, number> = { active: 0, backoff: 0, unschedulable: 0, inFlight: 0 };
    for (const e of this.pods.values()) out[e.where]++;
    return out;
  }

  private moveToActiveOrBackoff(pod: QueuedPod, nowMs: number): void {
    if (pod.backoffUntilMs > nowMs) this.set(pod, "backoff", this.backoff);
    else this.pushActive(pod);
  }

  private pushBackoff(pod: QueuedPod, nowMs: number): void {
    pod.backoffUntilMs = nowMs + podBackoffMs(pod.attempts);
    this.set(pod, "backoff", this.backoff);
  }

  private pushActive(pod: QueuedPod): void {
    this.set(pod, "active", this.active);
  }

  private set(pod: QueuedPod, where: SubQueue, heap?: BinaryHeap<HeapEntry>): void {
    const generation = ++this.generation;
    this.pods.set(pod.info.key, { pod, where, generation });
    heap?.push({ pod, generation });
    // re-inserted at the end: the map stays in unschedulableSinceMs order
    this.unschedulable.delete(pod.info.key);
    if (where === "unschedulable") this.unschedulable.set(pod.info.key, pod);
  }
}
