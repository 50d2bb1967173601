/**
 * The simulated clients: each is its own process (an actor system on the simulated network)
 * with a real StoreClient — one session, writes exactly once across retries and failovers — that
 * loops put / delete / compare-and-swap / linearizable get on a few keys. Most reads are pinned
 * to a server drawn from all of them, followers included, so that a follower's ReadIndex path
 * is exercised under faults; the rest go where the client last wrote (usually the leader).
 *
 * Every operation goes into the history for the linearizability checker. A write whose fate is
 * unknown (the client gave up, or its session expired) stays pending forever; a read that failed
 * had no effect and is dropped. Values are unique per write, so the end-of-run checks can tell
 * every write apart in the store's own history.
 */
import { pino } from "pino";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { sleep } from "../../../actors/system/clock.ts";
import { StoreClient } from "../../client/store-client.ts";
import type { MvccCommand } from "../../mvcc/commands.ts";
import type { CommandResponse } from "../../mvcc/responses.ts";
import type { KvOperation } from "../linearizability/kv-model.ts";
import type { SimRandom } from "../random.ts";
import type { ReplicaSimOptions } from "./options.ts";
import type { ProcessClock } from "./timeline.ts";
import { ProcessWire, type WireNetwork } from "./wire.ts";

const SILENT = pino({ level: "silent" });
const enc = (s: string) => Buffer.from(s, "utf8");

/** What a client needs from the simulation. */
export interface WorkloadHost {
  readonly options: ReplicaSimOptions;
  readonly random: SimRandom;
  readonly history: KvOperation[];
  readonly network: WireNetwork;
  workloadOn(): boolean;
  /** Distinct, ordered timestamps for the history. */
  eventTime(): number;
  serverIds(): string[];
  leaderId(): string | null;
  record(text: string): void;
  acknowledged(client: string, op: KvOperation): void;
  readCompleted(pinnedTo: string | null, wasLeader: boolean): void;
}

export class SimWorkloadClient {
  readonly wire: ProcessWire;
  private readonly system: ActorSystem;
  private readonly store: StoreClient;
  private busy = true;
  private writes = 0;

  constructor(
    private readonly host: WorkloadHost,
    readonly name: string,
    readonly clock: ProcessClock,
  ) {
    this.wire = new ProcessWire(host.network, name, clock);
    this.system = new ActorSystem({ nodeId: name, clock, logger: SILENT, wire: this.wire });
    this.store = new StoreClient({
      system: this.system,
      servers: () => host.serverIds(),
      requestTimeoutMs: host.options.clientRequestTimeoutMs,
      maxAttempts: host.options.clientMaxAttempts,
      name: "store-client",
    });
  }

  /** Between operations, after the workload stopped. */
  get idle(): boolean {
    return !this.busy;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    const { options, random } = this.host;
    while (this.host.workloadOn()) {
      await sleep(this.clock, random.int(2 * options.clientThinkMs + 1));
      if (!this.host.workloadOn()) break;
      const key = `k${random.int(options.keys)}`;
      if (random.chance(options.readFraction)) await this.read(key);
      else await this.write(key);
    }
    this.busy = false;
  }

  private async read(key: string): Promise<void> {
    const { host } = this;
    const pinned = host.random.chance(host.options.pinnedReadFraction)
      ? host.random.pick(host.serverIds())
      : null;
    const wasLeader = pinned !== null && pinned === host.leaderId();
    const op: KvOperation = {
      clientId: this.name,
      op: "get",
      input: { key },
      callMs: host.eventTime(),
    };
    host.history.push(op);
    try {
      const response = await this.store.range(
        { key: enc(key) },
        pinned === null ? {} : { server: pinned },
      );
      const kv = response.kvs[0];
      op.returnMs = host.eventTime();
      op.output = (kv === undefined ? undefined : Buffer.from(kv.value).toString("utf8")) as never;
      host.readCompleted(pinned, wasLeader);
      host.record(`${this.name} get(${key}) = ${op.output ?? "<absent>"} at ${pinned ?? "any"}`);
    } catch (error) {
      // a read that failed changed nothing: it leaves the history
      host.history.splice(host.history.indexOf(op), 1);
      host.record(
        `${this.name} get(${key}) at ${pinned ?? "any"} failed: ${(error as Error).message}`,
      );
    }
  }

  private async write(key: string): Promise<void> {
    const { host } = this;
    const value = `${this.name}.${++this.writes}`;
    const r = host.random.float();
    const callMs = host.eventTime();
    let op: KvOperation;
    let command: MvccCommand;
    if (r < 0.5) {
      op = { clientId: this.name, op: "put", input: { key, value }, callMs };
      command = { op: "put", key: enc(key), value: enc(value) };
    } else if (r < 0.65) {
      op = { clientId: this.name, op: "delete", input: { key }, callMs };
      command = { op: "deleteRange", key: enc(key) };
    } else {
      const expected = host.random.chance(0.3) ? undefined : this.lastWrittenValue(key);
      op = { clientId: this.name, op: "cas", input: { key, expected, value }, callMs };
      command = {
        op: "txn",
        compare: [
          expected === undefined
            ? { target: "version", key: enc(key), result: "=", operand: 0 }
            : { target: "value", key: enc(key), result: "=", value: enc(expected) },
        ],
        success: [{ op: "put", key: enc(key), value: enc(value) }],
        failure: [],
      };
    }
    host.history.push(op);
    let response: CommandResponse;
    try {
      response = await this.store.write(command);
    } catch (error) {
      // its fate is unknown: pending forever in the history
      host.record(`${this.name} ${describe(op)} failed: ${(error as Error).message}`);
      return;
    }
    op.returnMs = host.eventTime();
    if (op.op === "cas") op.output = (response.kind === "txn" && response.succeeded) as never;
    else op.output = null as never;
    host.acknowledged(this.name, op);
    host.record(
      `${this.name} ${describe(op)} → ${JSON.stringify(op.output)} rev ${response.header.revision}`,
    );
  }

  /** The value this key last got from any write of the history (a likely CAS expectation). */
  private lastWrittenValue(key: string): string | undefined {
    const h = this.host.history;
    for (let i = h.length - 1; i >= 0; i--) {
      const op = h[i]!;
      if (op.input.key !== key) continue;
      if (op.op === "put" || op.op === "cas") return op.input.value;
    }
    return undefined;
  }
}

export function describe(op: KvOperation): string {
  switch (op.op) {
    case "put":
      return `put(${op.input.key}, ${op.input.value})`;
    case "delete":
      return `delete(${op.input.key})`;
    case "cas":
      return `cas(${op.input.key}, ${op.input.expected ?? "<absent>"}, ${op.input.value})`;
    case "get":
      return `get(${op.input.key})`;
  }
}
