import type { ActorSystem } from "../../actors/system/actor-system.ts";
import { CHAOS_CRASH_EVENT } from "../../actors/system/chaos-crash.ts";
import { followMatcher } from "../../actors/system/follow-filter.ts";
import {
  type InspectionRecord,
  MAX_INSPECTION_PAGE_RECORDS,
} from "../../actors/system/inspection-ring.ts";
import { chartOf } from "../../actors/system/machine-chart.ts";
import {
  type FollowFilter,
  INSPECT_RECORDS_KIND,
  type NodeIntrospection,
} from "../../actors/system/node-actor.ts";
import { runningBundle } from "../node-runtime.ts";

export interface LinkView {
  state: string;
  [key: string]: unknown;
}

export interface NodeStatus {
  nodeId: string;
  pid: number;
  uptimeMs: number;
  faults: boolean;
  links: Record<string, LinkView>;
  actors: ReturnType<ActorSystem["status"]>;
  inspectionSeq: number;
  deadLetters: number;
  /** The Raft replica's view, on servers. */
  raft: unknown;
  memory: MemoryView;
  /** What this process runs: the dist/ bundle, or the TypeScript sources through tsx. */
  runtime: "bundle" | "tsx";
}

/** This process's memory, in MiB: resident now and at its peak, and V8's heap. */
export interface MemoryView {
  rssMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
}

const MIB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;

export function memoryView(): MemoryView {
  const m = process.memoryUsage();
  return {
    rssMiB: mib(m.rss),
    // maxRSS is in KiB
    peakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
    heapUsedMiB: mib(m.heapUsed),
    heapTotalMiB: mib(m.heapTotal),
  };
}

/**
 * The answers the node actor gives about this process. Followers get the new inspection
 * records of each turn as one `inspect.records` tell (at most `maxFollowBatchRecords`); one
 * whose sends start failing is dropped.
 */
export class Introspection implements NodeIntrospection {
  private readonly followers = new Map<string, () => void>();
  private readonly startedMs: number;

  constructor(
    private readonly system: ActorSystem,
    private readonly links: () => Record<string, LinkView>,
    private readonly faults: boolean,
    private readonly raft: () => unknown = () => null,
  ) {
    this.startedMs = system.clock.nowMs();
  }

  status(): NodeStatus {
    return {
      nodeId: this.system.nodeId,
      pid: process.pid,
      uptimeMs: Math.round(this.system.clock.nowMs() - this.startedMs),
      faults: this.faults,
      links: this.links(),
      actors: this.system.status(),
      inspectionSeq: this.system.ring.nextSeq,
      deadLetters: this.system.deadLetters,
      raft: this.raft(),
      memory: memoryView(),
      runtime: runningBundle() ? "bundle" : "tsx",
    };
  }

  inspectionPage(sinceSeq: number, address: string | undefined, limit: number) {
    const options: { address?: string; limit: number } = {
      limit: Math.min(limit, MAX_INSPECTION_PAGE_RECORDS),
    };
    if (address !== undefined) options.address = address;
    return this.system.readInspection(sinceSeq, options);
  }

  chart(actor: string) {
    const name = actor.includes("/") ? actor.slice(actor.indexOf("/") + 1) : actor;
    const machine = this.system.machineOf(name);
    const ref = this.system.actorRef(name);
    if (machine === undefined || ref === undefined) {
      return { error: `no actor ${this.system.address(name)}` };
    }
    const snapshot = ref.getSnapshot() as { value?: unknown; status?: string };
    return { chart: chartOf(machine), state: snapshot.value ?? null, status: snapshot.status };
  }

  follow(subscriber: string, filter: FollowFilter): string | null {
    const existing = this.followers.get(subscriber);
    if (existing === undefined && this.followers.size >= this.system.limits.maxFollowers) {
      return `too many inspection followers on ${this.system.nodeId} (${this.system.limits.maxFollowers})`;
    }
    existing?.(); // a follower asking again changes its filter
    const self = this.system.address("node");
    const wants = followMatcher(filter);
    const maxBatch = this.system.limits.maxFollowBatchRecords;
    // the records of one turn go out as one tell, not one tell a record: a busy node's records
    // come in bursts (an event, its microsteps, its snapshot; a Ready and its ADVANCE)
    let batch: InspectionRecord[] = [];
    let following = true;
    const send = () => {
      const records = batch;
      batch = [];
      if (!following || records.length === 0) return;
      const sent = this.system.tell(self, subscriber, INSPECT_RECORDS_KIND, records);
      if (!sent.ok) this.unfollow(subscriber);
    };
    const unsubscribe = this.system.ring.subscribe((record) => {
      // a local follower's handling of a batch is itself recorded: sent on, each batch would
      // make the next one, and the node would spend itself feeding its own follower
      if (record.address === subscriber && record.eventType === INSPECT_RECORDS_KIND) return;
      if (batch.length >= maxBatch || !wants(record)) return;
      batch.push(record);
      if (batch.length === 1) queueMicrotask(send);
    });
    this.followers.set(subscriber, () => {
      following = false;
      unsubscribe();
    });
    return null;
  }

  unfollow(subscriber: string): void {
    this.followers.get(subscriber)?.();
    this.followers.delete(subscriber);
  }

  crashActor(actor: string): string | null {
    if (!this.faults) return "chaos is off: start the node with --faults";
    const name = actor.includes("/") ? actor.slice(actor.indexOf("/") + 1) : actor;
    if (this.system.actorRef(name) === undefined) return `no actor ${this.system.address(name)}`;
    const sent = this.system.tell(
      this.system.address("node"),
      this.system.address(name),
      CHAOS_CRASH_EVENT,
      null,
    );
    return sent.ok ? null : sent.error;
  }

  stop(): void {
    for (const off of this.followers.values()) off();
    this.followers.clear();
  }
}
