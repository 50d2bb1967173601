/**
 * The Raft consensus core: one node's state machine.
 */
import { type RaftConfig, type RaftConfigInput, resolveConfig } from "./config.ts";
import type { ConfChange, ConfState, Message, NodeId } from "./messages.ts";
import type { Ready } from "./ready.ts";
import type { Status } from "./status.ts";

export class RaftNode {
  readonly id: NodeId;
  private readonly config: RaftConfig;

  constructor(input: RaftConfigInput) {
    this.config = resolveConfig(input);
    this.id = this.config.id;
  }

  /** Advances the logical clock by one tick (election timeout / heartbeat). */
  tick(): void {
    throw new Error("not implemented");
  }

  /** Steps a message received from a peer (or a local message). */
  step(_m: Message): void {
    throw new Error("not implemented");
  }

  /** Proposes data to be appended to the log. Throws ProposalDroppedError. */
  propose(_data: Uint8Array): void {
    throw new Error("not implemented");
  }

  /** Proposes a membership change. Throws ProposalDroppedError. */
  proposeConfChange(_cc: ConfChange): void {
    throw new Error("not implemented");
  }

  /** Requests a linearizable read; the answer arrives as a ReadState carrying `ctx`. */
  readIndex(_ctx: Uint8Array): void {
    throw new Error("not implemented");
  }

  /** Asks the leader to hand leadership to `to`. */
  transferLeader(_to: NodeId): void {
    throw new Error("not implemented");
  }

  /** Starts an election now (MsgHup). */
  campaign(): void {
    throw new Error("not implemented");
  }

  hasReady(): boolean {
    throw new Error("not implemented");
  }

  ready(): Ready {
    throw new Error("not implemented");
  }

  advance(): void {
    throw new Error("not implemented");
  }

  /** Applies a committed membership change; returns the new configuration. */
  applyConfChange(_cc: ConfChange): ConfState {
    throw new Error("not implemented");
  }

  status(): Status {
    throw new Error("not implemented");
  }

  reportUnreachable(_id: NodeId): void {
    throw new Error("not implemented");
  }

  reportSnapshot(_id: NodeId, _ok: boolean): void {
    throw new Error("not implemented");
  }
}
