/** Leadership transfer (Raft thesis §3.10): MsgTransferLeader → catch up → MsgTimeoutNow. */
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../raft/core/errors.ts";
import { bytes, Network } from "./network.ts";

describe("Thesis §3.10 leadership transfer", () => {
  it("an up-to-date transferee is told to campaign at once and becomes leader in the next term", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "a");
    const term = net.node("n1").status().term;
    net.node("n1").transferLeader("n2");
    net.stabilize();
    expect(net.delivered.some((m) => m.type === "MsgTimeoutNow" && m.to === "n2")).toBe(true);
    expect(net.leaders()).toEqual(["n2"]);
    expect(net.node("n2").status().term).toBe(term + 1);
    net.propose("n2", "b");
    expect(net.appliedData("n1")).toEqual(["a", "b"]);
  });

  it("a lagging transferee is first brought up to date, then takes over", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.isolate("n3");
    for (let i = 0; i < 5; i++) net.propose("n1", `p${i}`);
    net.heal();
    net.node("n1").transferLeader("n3");
    net.stabilize();
    expect(net.leaders()).toEqual(["n3"]);
    expect(net.appliedData("n3")).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  it("a transfer requested at a follower is forwarded to the leader", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.node("n3").transferLeader("n3");
    net.stabilize();
    expect(net.leaders()).toEqual(["n3"]);
  });

  it("proposals are refused while a transfer is in progress, and accepted again once it is aborted after an election timeout", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.isolate("n3");
    net.propose("n1", "a");
    net.node("n1").transferLeader("n3"); // n3 cannot catch up: the transfer hangs
    net.stabilize();
    expect(net.node("n1").status().leadTransferee).toBe("n3");
    let err: unknown;
    try {
      net.node("n1").propose(bytes("b"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProposalDroppedError);
    expect((err as ProposalDroppedError).reason).toBe("transferInProgress");
    for (let i = 0; i < 10; i++) {
      net.tick("n1");
      net.stabilize();
    }
    expect(net.node("n1").status()).toMatchObject({ role: "leader", leadTransferee: null });
    net.propose("n1", "b");
    expect(net.appliedData("n1")).toEqual(["a", "b"]);
  });

  it("the transferee's election is not blocked by its peers' leader leases", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true, preVote: true });
    net.elect("n1");
    net.tickAll(3); // everyone has recently heard from n1: all are inside their lease
    net.node("n1").transferLeader("n2");
    net.stabilize();
    expect(net.leaders()).toEqual(["n2"]);
  });

  it("transferring to self or to a non-member is a no-op", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.node("n1").transferLeader("n1");
    net.node("n1").transferLeader("n9");
    net.stabilize();
    expect(net.node("n1").status()).toMatchObject({ role: "leader", leadTransferee: null });
  });
});
