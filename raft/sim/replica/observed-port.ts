/**
 * The store actor's port on a simulated server: the real ReplicaStorePort, with the simulator
 * watching what it answers. Two oracles live here, because only here is it known which request
 * an answer belongs to:
 *
 * - stale read: a linearizable read must reflect every write committed before it arrived. The
 *   simulator gives the highest revision any running store had applied at arrival (applied
 *   entries are committed); the revision the read was served at may not be lower.
 * - proposal answered for another entry: the outcome a proposer receives names the index of the
 *   entry that produced it; that entry must carry the command proposed (the same session seq and
 *   command: a copy proposed again, or retried, is the same command).
 */
import type { ActorSystem } from "../../../actors/system/actor-system.ts";
import type { CommandEnvelope } from "../../mvcc/commands.ts";
import type { ApplyOutcome } from "../../mvcc/responses.ts";
import type { MvccStore, RangeRequest } from "../../mvcc/store.ts";
import type { Replica } from "../../replica/replica.ts";
import { ReplicaStorePort } from "../../replica/replica-store-port.ts";

export interface PortObserver {
  /** A request arrived; returns the revision floor a linearizable read must reach. */
  requestArrived(kind: "read" | "proposal"): number;
  readServed(floorRevision: number, servedRevision: number, key: Uint8Array): void;
  proposalAnswered(envelope: CommandEnvelope, outcome: ApplyOutcome): void;
}

export class ObservedStorePort extends ReplicaStorePort {
  constructor(
    system: ActorSystem,
    replica: Replica,
    store: MvccStore,
    private readonly observer: PortObserver,
  ) {
    super(system, replica, store);
  }

  override async propose(envelope: CommandEnvelope) {
    this.observer.requestArrived("proposal");
    const reply = await super.propose(envelope);
    this.observer.proposalAnswered(envelope, reply.outcome);
    return reply;
  }

  override async range(request: RangeRequest, serializable: boolean) {
    const floor = this.observer.requestArrived("read");
    const response = await super.range(request, serializable);
    if (!serializable && response.kind === "range") {
      this.observer.readServed(floor, response.header.revision, request.key);
    }
    return response;
  }
}
