/**
 * What the simulator needs from a Raft node, and how it makes one. The real core satisfies
 * `SimRaftNode`; tests inject deliberately broken nodes through a custom `NodeFactory` to show
 * that the simulator catches them.
 */

import type { ConfChange, ConfState, Message, NodeId } from "../core/messages.ts";
import { RaftNode } from "../core/raft.ts";
import type { Ready } from "../core/ready.ts";
import type { MemoryStorage } from "../storage/memory.ts";

export interface SimRaftNode {
  tick(): void;
  step(m: Message): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  readIndex(ctx: Uint8Array): void;
  transferLeader(to: NodeId): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(): void;
  applyConfChange(cc: ConfChange): ConfState;
  reportSnapshot(id: NodeId, ok: boolean): void;
}

export interface NodeParams {
  id: NodeId;
  storage: MemoryStorage;
  /** The state machine's applied index (its snapshot's index after a restart). */
  applied: number;
  randomSeed: number;
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
}

export type NodeFactory = (params: NodeParams) => SimRaftNode;

export const coreNodeFactory: NodeFactory = (p) =>
  new RaftNode({
    id: p.id,
    storage: p.storage,
    applied: p.applied,
    randomSeed: p.randomSeed,
    electionTick: p.electionTick,
    heartbeatTick: p.heartbeatTick,
    maxSizePerMsg: p.maxSizePerMsg,
    maxInflightMsgs: p.maxInflightMsgs,
  });
