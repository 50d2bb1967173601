/**
 * Log replication: Raft §5.3 (AppendEntries, consistency check, log repair, Figure 7),
 * §5.4.2 (Figure 8: commit only current-term entries by counting), etcd's fast backtracking,
 * flow control (inflights) and batching (maxSizePerMsg).
 */
import { describe, expect, it } from "vitest";
import type { Message, MsgApp } from "../../../raft/core/messages.ts";
import { RaftNode } from "../../../raft/core/raft.ts";
import { bytes, drain, Network, networkFrom, storageWithLog } from "./network.ts";

describe("Raft §5.3 log replication", () => {
  it("the leader appends a proposal to its log and sends it to every follower in AppendEntries", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    const commit = net.node("n1").status().commit;
    net.node("n1").propose(bytes("x"));
    net.processReadies();
    const apps = net.queue.filter((m): m is MsgApp => m.type === "MsgApp");
    expect(apps.map((m) => m.to).sort()).toEqual(["n2", "n3"]);
    for (const m of apps) {
      expect(m).toMatchObject({ index: 1, logTerm: 1, commit, term: 1 });
      expect(m.entries.map((e) => [e.index, e.term])).toEqual([[2, 1]]);
    }
    // The leader sends MsgApp before persisting its own copy (thesis §10.2.1): in `messages`.
    const rd = net.peer("n1").readies.at(-1)!;
    expect(rd.messages.some((m) => m.type === "MsgApp")).toBe(true);
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
  });

  it("an entry is committed once stored on a majority; a lagging follower learns it later", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.isolate("n3");
    net.propose("n1", "a");
    expect(net.appliedData("n1")).toEqual(["a"]);
    expect(net.appliedData("n2")).toEqual(["a"]);
    expect(net.appliedData("n3")).toEqual([]);
    net.heal();
    net.tickAll(2);
    expect(net.appliedData("n3")).toEqual(["a"]);
  });

  it("a follower acknowledges appended entries only after persisting them (messagesAfterPersist)", () => {
    const storage = storageWithLog(["n1", "n2"], [], { term: 1 });
    const n2 = new RaftNode({ id: "n2", storage });
    n2.step({
      type: "MsgApp",
      from: "n1",
      to: "n2",
      term: 1,
      index: 0,
      logTerm: 0,
      entries: [{ term: 1, index: 1, type: "normal", data: bytes("a") }],
      commit: 1,
    });
    const rd = n2.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist).toMatchObject([
      { type: "MsgAppResp", to: "n1", index: 1, reject: false },
    ]);
    // Committed in the same message: applied after being persisted in this very Ready.
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    n2.advance();
  });

  it("consistency check: a follower rejects AppendEntries whose previous (index, term) it lacks, hinting where to retry", () => {
    // Follower log: terms [1, 1, 2]; leader claims index 3 has term 3.
    const storage = storageWithLog(["n1", "n2"], [1, 1, 2], { term: 3 });
    const n2 = new RaftNode({ id: "n2", storage });
    n2.step({
      type: "MsgApp",
      from: "n1",
      to: "n2",
      term: 3,
      index: 3,
      logTerm: 3,
      entries: [],
      commit: 0,
    });
    const resp = drain(n2, storage).find((m) => m.type === "MsgAppResp");
    // Index 3 (term 2 <= 3) is the last entry that could still match.
    expect(resp).toMatchObject({ reject: true, index: 3, rejectHint: 3, logTerm: 2 });
    expect(storage.lastIndex()).toBe(3);
  });

  it("a conflicting suffix in the follower is deleted and replaced by the leader's entries", () => {
    const storage = storageWithLog(["n1", "n2"], [1, 2, 2], { term: 3 });
    const n2 = new RaftNode({ id: "n2", storage });
    n2.step({
      type: "MsgApp",
      from: "n1",
      to: "n2",
      term: 3,
      index: 1,
      logTerm: 1,
      entries: [
        { term: 3, index: 2, type: "normal", data: bytes("x") },
        { term: 3, index: 3, type: "normal", data: bytes("y") },
      ],
      commit: 1,
    });
    drain(n2, storage);
    expect([storage.term(1), storage.term(2), storage.term(3)]).toEqual([1, 3, 3]);
  });

  describe("Figure 7: the leader brings every follower log state (a)–(f) into agreement", () => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      "(a) missing one entry": [1, 1, 1, 4, 4, 5, 5, 6, 6],
      "(b) missing many entries": [1, 1, 1, 4],
      "(c) one extra uncommitted entry of term 6": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      "(d) extra entries of a later term 7": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      "(e) missing entries and extra term-4 entries": [1, 1, 1, 4, 4, 4, 4],
      "(f) extra entries of terms 2 and 3": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    for (const [name, followerLog] of Object.entries(followers)) {
      it(name, () => {
        const voters = ["n1", "n2", "n3"];
        const net = networkFrom({
          n1: storageWithLog(voters, leaderLog, { term: 8, commit: 10 }),
          n2: storageWithLog(voters, followerLog, { term: 7 }),
          // n3 holds the leader's log so that n1 can win even when n2 refuses (case d).
          n3: storageWithLog(voters, leaderLog, { term: 7 }),
        });
        net.elect("n1");
        expect(net.node("n1").status()).toMatchObject({ role: "leader", term: 9 });
        net.propose("n1", "after");
        expect(net.logTerms("n2")).toEqual(net.logTerms("n1"));
        expect(net.logTerms("n1")).toEqual([...leaderLog, 9, 9]);
        expect(net.node("n2").status().commit).toBe(12);
      });
    }
  });
});

describe("Raft §5.4.2 Figure 8: only entries of the current term are committed by counting replicas", () => {
  const cases = [
    {
      ackIndex: 1,
      commit: 0,
      rule: "an entry of term 1 on a majority is not committed by counting",
    },
    {
      ackIndex: 2,
      commit: 0,
      rule: "an entry of term 2 on a majority is not committed by counting",
    },
    {
      ackIndex: 3,
      commit: 3,
      rule: "the current term's entry commits, and with it every earlier entry",
    },
  ];
  for (const c of cases) {
    it(c.rule, () => {
      // The leader-to-be holds [1, 2] from earlier terms; nobody committed anything.
      const storage = storageWithLog(["n1", "n2", "n3"], [1, 2], { term: 2 });
      const n1 = new RaftNode({ id: "n1", storage, preVote: false });
      n1.campaign();
      drain(n1, storage);
      n1.step({ type: "MsgVoteResp", from: "n2", to: "n1", term: 3, reject: false });
      drain(n1, storage);
      expect(n1.status()).toMatchObject({ role: "leader", term: 3 });
      // Leader's log is [1, 2, 3(empty)], its own copy durable (match 3). n2 acks up to ackIndex.
      n1.step({
        type: "MsgAppResp",
        from: "n2",
        to: "n1",
        term: 3,
        index: c.ackIndex,
        reject: false,
        rejectHint: 0,
        logTerm: 0,
      });
      drain(n1, storage);
      expect(n1.status().commit).toBe(c.commit);
    });
  }
});

describe("Fast log backtracking (etcd's rejectHint + findConflictByTerm)", () => {
  it("a follower with 100 divergent entries is repaired with a handful of rejections, not one per entry", () => {
    const voters = ["n1", "n2", "n3"];
    const leaderLog = [1, ...Array<number>(50).fill(3)];
    const followerLog = [1, ...Array<number>(100).fill(2)];
    const net = networkFrom({
      n1: storageWithLog(voters, leaderLog, { term: 3 }),
      n2: storageWithLog(voters, followerLog, { term: 3 }),
      n3: storageWithLog(voters, leaderLog, { term: 3 }),
    });
    net.elect("n1");
    net.stabilize();
    const rejections = net.delivered.filter(
      (m) => m.type === "MsgAppResp" && m.from === "n2" && m.reject,
    );
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(net.logTerms("n2")).toEqual(net.logTerms("n1"));
  });

  it("a follower whose log is far behind is caught up with one rejection", () => {
    const voters = ["n1", "n2", "n3"];
    const leaderLog = Array<number>(200).fill(1);
    const net = networkFrom({
      n1: storageWithLog(voters, leaderLog, { term: 1 }),
      n2: storageWithLog(voters, [1, 1], { term: 1 }),
      n3: storageWithLog(voters, leaderLog, { term: 1 }),
    });
    net.elect("n1");
    const rejections = net.delivered.filter(
      (m) => m.type === "MsgAppResp" && m.from === "n2" && m.reject,
    );
    expect(rejections.length).toBe(1);
    expect(net.logTerms("n2")).toEqual(net.logTerms("n1"));
  });
});

describe("Flow control and batching", () => {
  it("the leader keeps at most maxInflightMsgs unacknowledged MsgApps in flight to a follower", () => {
    const net = new Network(["n1", "n2", "n3"], { maxInflightMsgs: 3 });
    net.elect("n1");
    expect(net.node("n1").status().progress.n2?.state).toBe("replicate");
    // n2 receives but its acks are lost.
    net.filter = (m: Message) => !(m.from === "n2" && m.type === "MsgAppResp");
    const before = net.delivered.length;
    for (let i = 0; i < 10; i++) net.propose("n1", `p${i}`);
    const appsToN2 = net.delivered
      .slice(before)
      .filter((m) => m.type === "MsgApp" && m.to === "n2" && m.entries.length > 0);
    expect(appsToN2).toHaveLength(3);
    expect(net.node("n1").status().progress.n2).toMatchObject({ inflightCount: 3, paused: true });
    // Everything still commits through n3, and once acks flow again n2 catches up.
    expect(net.appliedData("n1")).toHaveLength(10);
    net.heal();
    net.tickAll(3);
    expect(net.appliedData("n2")).toEqual(net.appliedData("n1"));
  });

  it("a probing follower gets one MsgApp at a time", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.node("n1").reportUnreachable("n2");
    expect(net.node("n1").status().progress.n2?.state).toBe("probe");
    net.isolate("n2");
    for (let i = 0; i < 5; i++) net.propose("n1", `p${i}`);
    expect(net.node("n1").status().progress.n2?.paused).toBe(true);
    net.heal();
    net.tickAll(3);
    expect(net.node("n1").status().progress.n2?.state).toBe("replicate");
    expect(net.appliedData("n2")).toHaveLength(5);
  });

  it("maxSizePerMsg batches a catch-up into several MsgApps, but always at least one entry each", () => {
    const net = new Network(["n1", "n2", "n3"], { maxSizePerMsg: 250 });
    net.elect("n1");
    net.isolate("n2");
    const payload = "x".repeat(100); // 116 bytes as counted by entrySizeBytes: two fit in 250
    for (let i = 0; i < 10; i++) net.propose("n1", payload + i);
    net.heal();
    const before = net.delivered.length;
    net.tickAll(3);
    const apps = net.delivered
      .slice(before)
      .filter((m): m is MsgApp => m.type === "MsgApp" && m.to === "n2" && m.entries.length > 0);
    expect(apps.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...apps.map((m) => m.entries.length))).toBeLessThanOrEqual(2);
    expect(net.appliedData("n2")).toHaveLength(10);

    const big = new Network(["n1", "n2"], { maxSizePerMsg: 10 });
    big.elect("n1");
    big.propose("n1", "y".repeat(1000)); // larger than the limit: still sent
    expect(big.appliedData("n2")).toHaveLength(1);
  });
});
