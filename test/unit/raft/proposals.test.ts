/** Proposal admission: forwarding, refusals with clear reasons, and the uncommitted-bytes limit. */
import { describe, expect, it } from "vitest";
import { ProposalDroppedError, type ProposalDropReason } from "../../../raft/core/errors.ts";
import { bytes, Network } from "./network.ts";

function dropReason(fn: () => void): ProposalDropReason | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof ProposalDroppedError) return e.reason;
    throw e;
  }
}

describe("proposals", () => {
  it("a follower forwards a proposal to its leader (etcd's disableProposalForwarding=false)", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n2", "via-follower");
    expect(net.appliedData("n3")).toEqual(["via-follower"]);
  });

  it("with forwarding disabled a follower refuses with reason notLeader", () => {
    const net = new Network(["n1", "n2", "n3"], { disableProposalForwarding: true });
    net.elect("n1");
    expect(dropReason(() => net.node("n2").propose(bytes("x")))).toBe("notLeader");
  });

  it("without a known leader a proposal is refused with reason noLeader", () => {
    const net = new Network(["n1", "n2", "n3"]);
    expect(dropReason(() => net.node("n1").propose(bytes("x")))).toBe("noLeader");
    net.node("n1").campaign(); // a (pre-)candidate knows no leader either
    expect(dropReason(() => net.node("n1").propose(bytes("x")))).toBe("noLeader");
  });

  it("a forwarded proposal the leader refuses is dropped silently at the leader (step never throws it)", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.isolate("n3");
    net.node("n1").transferLeader("n3");
    net.node("n2").propose(bytes("lost")); // forwarded to n1, which is transferring
    expect(() => net.stabilize()).not.toThrow();
    expect(net.appliedData("n1")).toEqual([]);
  });

  it("maxUncommittedEntriesSize bounds what a leader accepts while commits are stalled", () => {
    const net = new Network(["n1", "n2", "n3"], { maxUncommittedEntriesSize: 100 });
    net.elect("n1");
    net.isolate("n1"); // nothing can commit
    net.node("n1").propose(bytes("x".repeat(60)));
    net.node("n1").propose(bytes("x".repeat(30)));
    expect(dropReason(() => net.node("n1").propose(bytes("x".repeat(20))))).toBe(
      "uncommittedSizeExceeded",
    );
    net.heal();
    net.tickAll(2);
    // Once committed, the budget is free again.
    net.propose("n1", "y".repeat(90));
    expect(net.appliedData("n2")).toHaveLength(3);
  });

  it("a proposal is never assigned a term or index by the proposer: the leader stamps them", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "z");
    const e = net.peer("n2").applied[0]!;
    expect([e.index, e.term]).toEqual([2, 1]);
  });
});
