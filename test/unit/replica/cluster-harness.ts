import { pino } from "pino";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { type Clock, ManualClock } from "../../../actors/system/clock.ts";
import { StoreClient } from "../../../raft/client/store-client.ts";
import type { ConfState } from "../../../raft/core/messages.ts";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { MvccStore, type MvccStoreOptions } from "../../../raft/mvcc/store.ts";
import { Replica, type ReplicaLimits } from "../../../raft/replica/replica.ts";
import { MemoryReplicaLog } from "../../../raft/replica/replica-log.ts";
import { ReplicaStorePort, STORE_ACTOR } from "../../../raft/replica/replica-store-port.ts";
import { storeServiceMachine } from "../../../raft/replica/store-service.ts";
import { MemoryWireHub } from "../../support/memory-wire.ts";

/**
 * A whole cluster of replicas in one process, on a manual clock and an in-memory wire: each
 * server is an ActorSystem with a Replica, an MVCC store (memory backend) and the store actor.
 */
export interface Server {
  id: string;
  system: ActorSystem;
  replica: Replica;
  store: MvccStore;
  port: ReplicaStorePort;
}

const logger = pino({ level: "silent" });

export class InProcessCluster {
  readonly clock = new ManualClock();
  readonly hub = new MemoryWireHub();
  readonly servers = new Map<string, Server>();
  readonly fatal: Error[] = [];

  constructor(
    readonly ids: string[],
    private readonly limits: Partial<ReplicaLimits> = {},
    private readonly storeOptions: MvccStoreOptions = {},
  ) {}

  async start(): Promise<void> {
    for (const [i, id] of this.ids.entries()) await this.startServer(id, i + 1);
  }

  private async startServer(id: string, seed: number): Promise<void> {
    const confState: ConfState = {
      voters: this.ids,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    const system = new ActorSystem({
      nodeId: id,
      clock: this.clock,
      logger,
      wire: this.hub.wireFor(id),
    });
    const store = await MvccStore.open(new MemoryBackend(), this.storeOptions);
    const replica = new Replica({
      system,
      log: new MemoryReplicaLog(confState),
      store,
      logger,
      randomSeed: seed,
      tickIntervalMs: 10,
      limits: this.limits,
      onFatal: (e) => this.fatal.push(e),
    });
    const port = new ReplicaStorePort(system, replica, store);
    await replica.start();
    system.spawn(STORE_ACTOR, storeServiceMachine, { input: { port } });
    this.servers.set(id, { id, system, replica, store, port });
  }

  /** A client node that is not a server: its own actor system on the same wire. */
  client(nodeId = "c1", clock: Clock = this.clock): StoreClient {
    const system = new ActorSystem({
      nodeId,
      clock,
      logger,
      wire: this.hub.wireFor(nodeId),
    });
    return new StoreClient({ system, servers: () => this.ids, requestTimeoutMs: 500 });
  }

  leader(): Server | undefined {
    return [...this.servers.values()].find(
      (s) => s.replica.softState().role === "leader" && !this.isDown(s.id),
    );
  }

  private readonly downed = new Set<string>();
  isDown(id: string): boolean {
    return this.downed.has(id);
  }

  /** Cuts a server off the wire (a crash as the others see it). */
  isolate(id: string): void {
    this.downed.add(id);
    this.hub.setDown(id, true);
  }

  heal(id: string): void {
    this.downed.delete(id);
    this.hub.setDown(id, false);
  }

  /** Advances simulated time in steps, letting promises settle, until `done()` or the budget. */
  async runUntil(what: string, done: () => boolean, budgetMs = 20_000, stepMs = 5): Promise<void> {
    for (let t = 0; t <= budgetMs; t += stepMs) {
      if (done()) return;
      this.clock.advance(stepMs);
      await settle();
      if (this.fatal.length > 0) throw this.fatal[0];
    }
    throw new Error(`not reached within ${budgetMs} simulated ms: ${what}`);
  }

  /** Runs simulated time until `promise` settles. */
  async await<T>(promise: Promise<T>, budgetMs = 20_000): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    tracked.catch(() => undefined);
    await this.runUntil("a request to finish", () => settled, budgetMs);
    return tracked;
  }

  stop(): void {
    for (const s of this.servers.values()) {
      s.port.stop();
      s.replica.stop();
      s.system.stop();
    }
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}
