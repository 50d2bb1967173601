/**
 * Membership changes: one voter at a time with learners (thesis §4.1–§4.2.1) and joint
 * consensus (Raft §6), growing 3 → 5 and shrinking back to 3.
 */
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../raft/core/errors.ts";
import type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
} from "../../../raft/core/messages.ts";
import { Network } from "./network.ts";

function cc(transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChange {
  return { transition, changes, context: new Uint8Array() };
}
const addLearner = (nodeId: string): ConfChangeSingle => ({ type: "addLearner", nodeId });
const addVoter = (nodeId: string): ConfChangeSingle => ({ type: "addVoter", nodeId });
const removeNode = (nodeId: string): ConfChangeSingle => ({ type: "removeNode", nodeId });

function change(net: Network, leader: string, c: ConfChange): void {
  net.node(leader).proposeConfChange(c);
  net.stabilize();
}

describe("One-at-a-time membership changes with learners", () => {
  it("grows 3 → 5 through learners promoted one by one, then shrinks back to 3", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "a");

    for (const id of ["n4", "n5"]) {
      net.addJoiner(id, id === "n4" ? 4 : 5);
      // A learner receives the log but does not vote, so adding it cannot hurt availability.
      change(net, "n1", cc("auto", addLearner(id)));
      expect(net.node("n1").status().config.learners).toContain(id);
      net.tickAll(2);
      expect(net.appliedData(id)).toEqual(net.appliedData("n1"));
      expect(net.node("n1").status().progress[id]).toMatchObject({ isLearner: true });
      // Caught up: promote to voter.
      change(net, "n1", cc("auto", addVoter(id)));
    }
    expect(net.node("n1").status().config).toMatchObject({
      voters: ["n1", "n2", "n3", "n4", "n5"],
      learners: [],
    });
    for (const id of ["n2", "n3", "n4", "n5"])
      expect(net.peer(id).confState.voters).toHaveLength(5);

    // With five voters, two can fail.
    net.isolate("n2");
    net.isolate("n3");
    net.propose("n1", "b");
    expect(net.appliedData("n5")).toEqual(["a", "b"]);
    net.heal();
    net.tickAll(2);

    for (const id of ["n4", "n5"]) change(net, "n1", cc("auto", removeNode(id)));
    expect(net.node("n1").status().config).toMatchObject({
      voters: ["n1", "n2", "n3"],
      learners: [],
    });
    // The removed nodes no longer receive anything; the three voters commit on their own.
    net.isolate("n4");
    net.isolate("n5");
    net.propose("n1", "c");
    expect(net.appliedData("n3")).toEqual(["a", "b", "c"]);
    expect(Object.keys(net.node("n1").status().progress).sort()).toEqual(["n1", "n2", "n3"]);
  });

  it("a learner never campaigns, even after its election timeout", () => {
    const net = new Network(["n1", "n2", "n3"], {}, ["n4"]);
    net.elect("n1");
    net.isolate("n4");
    for (let i = 0; i < 50; i++) net.tick("n4");
    net.stabilize();
    expect(net.node("n4").status()).toMatchObject({ role: "follower" });
    expect(net.node("n4").status().term).toBe(1);
  });

  it("only one conf change may be pending at a time", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.node("n1").proposeConfChange(cc("auto", addLearner("n4")));
    let err: unknown;
    try {
      net.node("n1").proposeConfChange(cc("auto", addLearner("n5")));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProposalDroppedError);
    expect((err as ProposalDroppedError).reason).toBe("confChangeInProgress");
  });

  it("a simple change may not touch two voters at once (that needs joint consensus)", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    expect(() => net.node("n1").applyConfChange(cc("auto", addVoter("n4")))).not.toThrow();
    const net2 = new Network(["n1", "n2", "n3"]);
    net2.elect("n1");
    // Two voter changes in "auto" mean joint consensus, which is allowed...
    expect(() =>
      net2.node("n1").applyConfChange(cc("auto", addVoter("n4"), addVoter("n5"))),
    ).not.toThrow();
    expect(net2.node("n1").status().config.votersOutgoing).toEqual(["n1", "n2", "n3"]);
  });

  it("a removed leader steps down, and the remaining voters elect a new leader", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "a");
    change(net, "n1", cc("auto", removeNode("n1")));
    expect(net.node("n1").status().role).toBe("follower");
    for (let i = 0; i < 50 && net.leaders().length === 0; i++) net.tickAll();
    const [leader] = net.leaders();
    expect(["n2", "n3"]).toContain(leader);
    net.propose(leader!, "b");
    expect(net.appliedData("n2")).toEqual(["a", "b"]);
    expect(net.appliedData("n3")).toEqual(["a", "b"]);
  });
});

describe("Raft §6 joint consensus", () => {
  it("grows 3 → 5 in one joint change that is left automatically", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.addJoiner("n4", 4);
    net.addJoiner("n5", 5);
    change(net, "n1", cc("auto", addVoter("n4"), addVoter("n5")));
    net.tickAll(2);
    const config = net.node("n1").status().config;
    expect(config).toMatchObject({
      voters: ["n1", "n2", "n3", "n4", "n5"],
      votersOutgoing: [],
      autoLeave: false,
    });
    for (const id of ["n2", "n3", "n4", "n5"]) expect(net.peer(id).confState).toEqual(config);
    net.propose("n1", "x");
    expect(net.appliedData("n5")).toEqual(["x"]);
  });

  it("in the joint configuration a decision needs a majority of both the old and the new voters", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.addJoiner("n4", 4);
    net.addJoiner("n5", 5);
    // C_old = {n1,n2,n3}; C_new = {n1,n4,n5}; stay joint until explicitly told to leave.
    change(
      net,
      "n1",
      cc("explicit", addVoter("n4"), addVoter("n5"), removeNode("n2"), removeNode("n3")),
    );
    net.tickAll(2);
    expect(net.node("n1").status().config).toMatchObject({
      voters: ["n1", "n4", "n5"],
      votersOutgoing: ["n1", "n2", "n3"],
      autoLeave: false,
    });
    // n1 + n4 + n5 is a majority of C_new but only 1/3 of C_old: nothing commits.
    net.partition(["n1", "n4", "n5"], ["n2", "n3"]);
    const commit = net.node("n1").status().commit;
    net.node("n1").propose(new TextEncoder().encode("blocked"));
    net.stabilize();
    expect(net.node("n1").status().commit).toBe(commit);
    // n1 + n2 (majority of C_old) + n4 (with n1, majority of C_new): commits.
    net.heal();
    net.partition(["n1", "n2", "n4"], ["n3", "n5"]);
    net.tickAll(2);
    expect(net.appliedData("n1")).toEqual(["blocked"]);
    net.heal();
    // Leave the joint configuration: C_new alone.
    change(net, "n1", cc("auto"));
    net.tickAll(2);
    expect(net.node("n1").status().config).toMatchObject({
      voters: ["n1", "n4", "n5"],
      votersOutgoing: [],
    });
    net.isolate("n2");
    net.isolate("n3");
    net.propose("n1", "new-only");
    expect(net.appliedData("n5")).toEqual(["blocked", "new-only"]);
  });

  it("shrinks 5 → 3 in one joint change, demoting a voter to learner on the way out", () => {
    const net = new Network(["n1", "n2", "n3", "n4", "n5"]);
    net.elect("n1");
    change(net, "n1", cc("auto", removeNode("n4"), addLearner("n5")));
    net.tickAll(2);
    expect(net.node("n1").status().config).toMatchObject({
      voters: ["n1", "n2", "n3"],
      learners: ["n5"],
      votersOutgoing: [],
      learnersNext: [],
    });
    net.propose("n1", "y");
    expect(net.appliedData("n5")).toEqual(["y"]); // the learner still replicates
    expect(net.appliedData("n4")).toEqual([]);
  });

  it("an empty (leave-joint) change outside a joint configuration is refused", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    expect(() => net.node("n1").proposeConfChange(cc("auto"))).toThrow(ProposalDroppedError);
  });
});
