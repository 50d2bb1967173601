/**
 * What a normal Raft entry carries in bosun: the state machine's command envelope plus the
 * proposing replica's request id, which only that replica uses, to find who is waiting for the
 * outcome (etcd's request id in its internal raft request). Encoded with msgpack.
 */
import { Packr } from "msgpackr";
import type { CommandEnvelope } from "../mvcc/commands.ts";

export interface ProposalEntry {
  /** `nodeId:counter` of the replica that proposed it. */
  requestId: string;
  envelope: CommandEnvelope;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeProposal(entry: ProposalEntry): Uint8Array {
  return packr.pack(entry);
}

/** Decodes an entry written by encodeProposal; an entry that is not one is a corrupt log. */
export function decodeProposal(data: Uint8Array): ProposalEntry {
  const value = packr.unpack(data) as Partial<ProposalEntry> | null;
  if (
    value === null ||
    typeof value !== "object" ||
    typeof value.requestId !== "string" ||
    typeof value.envelope !== "object" ||
    value.envelope === null
  ) {
    throw new Error("replica: a committed entry is not a bosun proposal (corrupt log?)");
  }
  return value as ProposalEntry;
}
