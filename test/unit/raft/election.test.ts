/**
 * Leader election: Raft §5.2 (timeouts, votes, one vote per term, split votes), §5.1 (terms),
 * §5.4.1 (election restriction), thesis §9.6 (pre-vote) and §6.2/§4.2.3 (check-quorum, leases).
 */
import { describe, expect, it } from "vitest";
import type { Message, MsgVote } from "../../../raft/core/messages.ts";
import { RaftNode } from "../../../raft/core/raft.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";
import { drain, Network, networkFrom, storageWithLog } from "./network.ts";

const NO_PREVOTE = { preVote: false, checkQuorum: false };

function voteRequest(
  from: string,
  to: string,
  term: number,
  index: number,
  logTerm: number,
): MsgVote {
  return { type: "MsgVote", from, to, term, index, logTerm, transfer: false };
}

describe("Raft §5.2 leader election", () => {
  it("a follower that hears nothing for a randomized election timeout in [electionTick, 2*electionTick) becomes candidate, bumps its term and asks for votes", () => {
    const seenTimeouts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const storage = new MemoryStorage({
        voters: ["n1", "n2", "n3"],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
      const node = new RaftNode({ id: "n1", storage, randomSeed: seed, ...NO_PREVOTE });
      let ticks = 0;
      while (node.status().role === "follower") {
        node.tick();
        ticks++;
        expect(ticks).toBeLessThan(20);
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      seenTimeouts.add(ticks);
      expect(node.status()).toMatchObject({ role: "candidate", term: 1, vote: "n1" });
      const sent = drain(node, storage);
      const votes = sent.filter((m) => m.type === "MsgVote");
      expect(votes.map((m) => m.to).sort()).toEqual(["n2", "n3"]);
      expect(votes.every((m) => m.term === 1)).toBe(true);
      // The candidate's vote for itself is durable before anything else happens.
      expect(storage.hardStateNow()).toMatchObject({ term: 1, vote: "n1" });
    }
    // Randomization: different seeds give different timeouts (split votes become rare).
    expect(seenTimeouts.size).toBeGreaterThan(3);
  });

  it("a candidate that wins votes from a majority becomes leader and asserts itself to all peers", () => {
    const net = new Network(["n1", "n2", "n3"], NO_PREVOTE);
    net.elect("n1");
    expect(net.node("n1").status()).toMatchObject({ role: "leader", term: 1, lead: "n1" });
    for (const id of ["n2", "n3"])
      expect(net.node(id).status()).toMatchObject({ role: "follower", term: 1, lead: "n1" });
  });

  it("each server votes for at most one candidate in a term, first come first served", () => {
    const storage = new MemoryStorage({
      voters: ["n1", "n2", "n3"],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const n3 = new RaftNode({ id: "n3", storage, ...NO_PREVOTE });
    n3.step(voteRequest("n1", "n3", 1, 0, 0));
    n3.step(voteRequest("n2", "n3", 1, 0, 0));
    n3.step(voteRequest("n1", "n3", 1, 0, 0)); // a retry by the chosen candidate is granted again
    const replies = drain(n3, storage).filter((m) => m.type === "MsgVoteResp");
    expect(replies.map((m) => [m.to, m.type === "MsgVoteResp" && m.reject])).toEqual([
      ["n1", false],
      ["n2", true],
      ["n1", false],
    ]);
    expect(storage.hardStateNow()).toMatchObject({ term: 1, vote: "n1" });
  });

  it("a vote is promised only after it is persisted: MsgVoteResp travels in messagesAfterPersist", () => {
    const storage = new MemoryStorage({
      voters: ["n1", "n2"],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const n2 = new RaftNode({ id: "n2", storage, ...NO_PREVOTE });
    n2.step(voteRequest("n1", "n2", 1, 0, 0));
    const rd = n2.ready();
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist.map((m) => m.type)).toEqual(["MsgVoteResp"]);
    expect(rd.hardState).toEqual({ term: 1, vote: "n1", commit: 0 });
    expect(rd.mustSync).toBe(true);
    n2.advance();
  });

  it("split vote: with no majority nobody wins, and a later term with new random timeouts elects one leader", () => {
    const net = new Network(["n1", "n2", "n3", "n4"], NO_PREVOTE);
    // n1 reaches n3 first, n2 reaches n4 first: two candidates with two votes each out of four.
    net.filter = (m: Message) =>
      !(
        m.type === "MsgVote" &&
        ((m.from === "n1" && m.to === "n4") || (m.from === "n2" && m.to === "n3"))
      );
    net.node("n1").campaign();
    net.node("n2").campaign();
    net.stabilize();
    expect(net.leaders()).toEqual([]);
    expect(net.node("n1").status().role).toBe("candidate");
    expect(net.node("n2").status().role).toBe("candidate");
    net.heal();
    for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tickAll();
    const leaders = net.leaders();
    expect(leaders).toHaveLength(1);
    expect(net.node(leaders[0]!).status().term).toBeGreaterThanOrEqual(2);
  });
});

describe("Raft §5.2 election outcomes in one round (etcd's TestLeaderElectionInOneRoundRPC)", () => {
  const cases: Array<{ size: number; votes: Record<string, boolean>; role: string }> = [
    { size: 1, votes: {}, role: "leader" },
    { size: 3, votes: { n2: true, n3: true }, role: "leader" },
    { size: 3, votes: { n2: true }, role: "leader" },
    { size: 5, votes: { n2: true, n3: true, n4: true, n5: true }, role: "leader" },
    { size: 5, votes: { n2: true, n3: true, n4: true }, role: "leader" },
    { size: 5, votes: { n2: true, n3: true }, role: "leader" },
    { size: 3, votes: { n2: false, n3: false }, role: "follower" },
    { size: 5, votes: { n2: false, n3: false, n4: false }, role: "follower" },
    { size: 5, votes: { n2: true, n3: false, n4: false }, role: "candidate" },
    { size: 3, votes: {}, role: "candidate" },
    { size: 5, votes: { n2: true }, role: "candidate" },
    { size: 5, votes: { n2: false, n3: false }, role: "candidate" },
  ];
  for (const c of cases) {
    it(`${c.size} voters, responses ${JSON.stringify(c.votes)} → ${c.role}`, () => {
      const voters = Array.from({ length: c.size }, (_, i) => `n${i + 1}`);
      const storage = new MemoryStorage({
        voters,
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
      const n1 = new RaftNode({ id: "n1", storage, ...NO_PREVOTE });
      n1.campaign();
      drain(n1, storage); // persists the vote for itself, which then counts
      for (const [from, granted] of Object.entries(c.votes)) {
        n1.step({ type: "MsgVoteResp", from, to: "n1", term: 1, reject: !granted });
      }
      drain(n1, storage);
      expect(n1.status().role).toBe(c.role);
      expect(n1.status().term).toBe(1);
    });
  }
});

describe("Raft §5.2 heartbeats", () => {
  it("a leader sends an empty AppendEntries (heartbeat) to every follower each heartbeatTick", () => {
    const net = new Network(["n1", "n2", "n3"], { heartbeatTick: 2 });
    net.elect("n1");
    net.tick("n1");
    net.processReadies();
    expect(net.queue.filter((m) => m.type === "MsgHeartbeat")).toHaveLength(0);
    net.tick("n1");
    net.processReadies();
    const beats = net.queue.filter((m) => m.type === "MsgHeartbeat");
    expect(beats.map((m) => m.to).sort()).toEqual(["n2", "n3"]);
    // A heartbeat never carries a commit index beyond what the follower is known to hold.
    for (const m of beats) expect(m.type === "MsgHeartbeat" && m.commit).toBe(1);
  });

  it("a follower that hears heartbeats never starts an election", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.tickAll(100);
    expect(net.leaders()).toEqual(["n1"]);
    expect(net.node("n2").status().term).toBe(1);
  });
});

describe("Raft §5.1 terms", () => {
  it("a leader that sees a higher term steps down to follower of that term", () => {
    const net = new Network(["n1", "n2", "n3"], NO_PREVOTE);
    net.elect("n1");
    net
      .node("n1")
      .step({ type: "MsgHeartbeat", from: "n2", to: "n1", term: 5, commit: 0, context: null });
    expect(net.node("n1").status()).toMatchObject({ role: "follower", term: 5, lead: "n2" });
  });

  it("a candidate that receives AppendEntries from a leader of its own term becomes follower", () => {
    const storage = new MemoryStorage({
      voters: ["n1", "n2", "n3"],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const n1 = new RaftNode({ id: "n1", storage, ...NO_PREVOTE });
    n1.campaign();
    drain(n1, storage);
    expect(n1.status()).toMatchObject({ role: "candidate", term: 1 });
    n1.step({
      type: "MsgApp",
      from: "n2",
      to: "n1",
      term: 1,
      index: 0,
      logTerm: 0,
      entries: [],
      commit: 0,
    });
    expect(n1.status()).toMatchObject({ role: "follower", term: 1, lead: "n2" });
  });

  it("messages from a stale term are ignored", () => {
    const net = new Network(["n1", "n2", "n3"], NO_PREVOTE);
    net.elect("n1");
    net.elect("n2");
    expect(net.node("n2").status()).toMatchObject({ role: "leader", term: 2 });
    net.node("n2").step({
      type: "MsgVote",
      from: "n1",
      to: "n2",
      term: 1,
      index: 99,
      logTerm: 99,
      transfer: false,
    });
    expect(net.node("n2").status()).toMatchObject({ role: "leader", term: 2 });
  });
});

describe("Raft §5.4.1 election restriction", () => {
  // The voter's log has terms [1, 2] (last index 2, last term 2).
  const cases: Array<{ index: number; logTerm: number; granted: boolean; why: string }> = [
    { index: 1, logTerm: 1, granted: false, why: "lower last term" },
    { index: 3, logTerm: 1, granted: false, why: "lower last term, even if longer" },
    { index: 1, logTerm: 2, granted: false, why: "same last term but shorter" },
    { index: 2, logTerm: 2, granted: true, why: "same last term, same length" },
    { index: 3, logTerm: 2, granted: true, why: "same last term, longer" },
    { index: 1, logTerm: 3, granted: true, why: "higher last term, even if shorter" },
  ];
  for (const c of cases) {
    it(`a voter ${c.granted ? "grants" : "denies"} its vote to a candidate with (index ${c.index}, term ${c.logTerm}): ${c.why}`, () => {
      const storage = storageWithLog(["n1", "n2"], [1, 2], { term: 2 });
      const voter = new RaftNode({ id: "n1", storage, ...NO_PREVOTE });
      voter.step(voteRequest("n2", "n1", 3, c.index, c.logTerm));
      const resp = drain(voter, storage).find((m) => m.type === "MsgVoteResp");
      expect(resp && resp.type === "MsgVoteResp" && !resp.reject).toBe(c.granted);
    });
  }

  it("a node missing committed entries cannot become leader", () => {
    const net = networkFrom(
      {
        n1: storageWithLog(["n1", "n2", "n3"], [1], { term: 1 }),
        n2: storageWithLog(["n1", "n2", "n3"], [1, 1], { term: 1, commit: 2 }),
        n3: storageWithLog(["n1", "n2", "n3"], [1, 1], { term: 1, commit: 2 }),
      },
      NO_PREVOTE,
    );
    net.elect("n1");
    expect(net.node("n1").status().role).not.toBe("leader");
    expect(net.leaders()).toEqual([]);
    net.elect("n2");
    expect(net.leaders()).toEqual(["n2"]);
  });
});

describe("Thesis §9.6 pre-vote", () => {
  it("a node partitioned away and rejoining does not bump its term or disrupt the leader", () => {
    const net = new Network(["n1", "n2", "n3"], { preVote: true, checkQuorum: true });
    net.elect("n1");
    const term = net.node("n1").status().term;
    net.isolate("n3");
    for (let i = 0; i < 100; i++) {
      net.tick("n3");
      net.stabilize();
    }
    // n3 kept pre-campaigning but never won a pre-vote, so its term never moved.
    expect(net.node("n3").status().term).toBe(term);
    net.heal();
    net.tickAll(30);
    expect(net.leaders()).toEqual(["n1"]);
    expect(net.node("n1").status().term).toBe(term);
    expect(net.node("n3").status()).toMatchObject({ role: "follower", lead: "n1", term });
  });

  it("without pre-vote (and check-quorum) the same rejoin forces the leader to step down", () => {
    const net = new Network(["n1", "n2", "n3"], NO_PREVOTE);
    net.elect("n1");
    net.isolate("n3");
    for (let i = 0; i < 100; i++) {
      net.tick("n3");
      net.stabilize();
    }
    expect(net.node("n3").status().term).toBeGreaterThan(1);
    net.heal();
    // n3's next vote request carries its inflated term: the healthy leader must step down.
    let steppedDown = false;
    for (let i = 0; i < 40 && !steppedDown; i++) {
      net.tickAll();
      steppedDown = net.node("n1").status().term > 1;
    }
    expect(steppedDown).toBe(true);
  });

  it("a pre-candidate becomes candidate only with a quorum of pre-votes, then wins the real election", () => {
    const net = new Network(["n1", "n2", "n3"], { preVote: true });
    net.node("n1").campaign();
    expect(net.node("n1").status()).toMatchObject({ role: "preCandidate", term: 0 });
    net.stabilize();
    expect(net.node("n1").status()).toMatchObject({ role: "leader", term: 1 });
  });
});

describe("Check-quorum (thesis §6.2) and leader leases (§4.2.3)", () => {
  it("a leader that hears from no quorum within an election timeout steps down", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true });
    net.elect("n1");
    net.isolate("n1");
    for (let i = 0; i < 20; i++) {
      net.tick("n1");
      net.stabilize();
    }
    expect(net.node("n1").status()).toMatchObject({ role: "follower", lead: null });
  });

  it("a leader with an active quorum stays leader", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true });
    net.elect("n1");
    net.isolate("n3");
    for (let i = 0; i < 50; i++) {
      net.tick("n1");
      net.stabilize();
    }
    expect(net.node("n1").status().role).toBe("leader");
  });

  it("followers in their lease ignore a disruptive vote request from a higher term", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true, preVote: false });
    net.elect("n1");
    const term = net.node("n1").status().term;
    net.node("n3").campaign(); // no pre-vote: n3 bumps its term and asks
    net.stabilize();
    expect(net.node("n1").status()).toMatchObject({ role: "leader", term });
    expect(net.node("n2").status()).toMatchObject({ lead: "n1", term });
  });

  it("followers that forgot a dead leader elect a new one at once, inside the old lease", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true, preVote: true });
    net.elect("n1");
    const term = net.node("n1").status().term;
    net.isolate("n1"); // the leader's process died; its peers saw the connection close
    net.node("n3").campaign(); // still within n2's lease: refused
    net.stabilize();
    expect(net.leaders().filter((id) => id !== "n1")).toEqual([]);
    net.node("n2").forgetLeader();
    net.node("n3").forgetLeader();
    net.node("n3").campaign(); // no tick has passed: only forgetting made this possible
    net.stabilize();
    expect(net.node("n3").status()).toMatchObject({ role: "leader", term: term + 1 });
  });

  it("forgetting a leader that is alive costs nothing: its next heartbeat restores it", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: true, preVote: true });
    net.elect("n1");
    net.node("n2").forgetLeader();
    net.node("n2").campaign(); // pre-vote: n3 is still in n1's lease and refuses
    net.stabilize();
    net.tick("n1");
    net.stabilize();
    expect(net.node("n1").status().role).toBe("leader");
    expect(net.node("n2").status().lead).toBe("n1");
  });
});
