/** Snapshots and log compaction (Raft §7). */
import { describe, expect, it } from "vitest";
import { RaftNode } from "../../../raft/core/raft.ts";
import { bytes, drain, Network, networkFrom, storageWithLog } from "./network.ts";

describe("Raft §7 log compaction and InstallSnapshot", () => {
  it("the leader sends a snapshot to a follower that needs compacted entries; the follower installs it over its divergent log", () => {
    const voters = ["n1", "n2", "n3"];
    const net = networkFrom({
      n1: storageWithLog(voters, [1, 3, 3, 3, 3, 3], { term: 3 }),
      n2: storageWithLog(voters, [1, 3, 3, 3, 3, 3], { term: 3 }),
      // n3 holds entries of term 2 that were never committed and must disappear.
      n3: storageWithLog(voters, [1, 2, 2, 2], { term: 2 }),
    });
    net.isolate("n3");
    net.elect("n1");
    for (let i = 0; i < 5; i++) net.propose("n1", `p${i}`);
    const snapIndex = net.compact("n1");
    expect(net.peer("n1").storage.firstIndex()).toBe(snapIndex + 1);

    net.heal();
    net.tickAll(3);
    expect(net.delivered.filter((m) => m.type === "MsgSnap" && m.to === "n3")).toHaveLength(1);
    const n3 = net.peer("n3");
    expect(n3.storage.snapshot().metadata.index).toBe(snapIndex);
    expect(n3.appliedIndex).toBe(net.peer("n1").appliedIndex);
    expect(net.appliedData("n3")).toEqual(net.appliedData("n1"));
    expect(net.logTerms("n3")).toEqual(net.logTerms("n1"));
    // Replication continues normally after the snapshot.
    net.propose("n1", "after");
    expect(net.appliedData("n3").at(-1)).toBe("after");
    expect(net.node("n1").status().progress.n3?.state).toBe("replicate");
  });

  it("a follower that already holds the snapshot's last entry only advances its commit index", () => {
    const storage = storageWithLog(["n1", "n2"], [1, 1, 1], { term: 1 });
    const n2 = new RaftNode({ id: "n2", storage });
    n2.step({
      type: "MsgSnap",
      from: "n1",
      to: "n2",
      term: 1,
      snapshot: {
        metadata: {
          index: 2,
          term: 1,
          confState: {
            voters: ["n1", "n2"],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: bytes("[]"),
      },
    });
    const rd = n2.ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.hardState?.commit).toBe(2);
    expect(rd.messagesAfterPersist).toMatchObject([
      { type: "MsgAppResp", index: 2, reject: false },
    ]);
    n2.advance();
    expect(storage.lastIndex()).toBe(3);
  });

  it("a stale snapshot (at or below the commit index) is ignored", () => {
    const storage = storageWithLog(["n1", "n2"], [1, 1, 1], { term: 1, commit: 3 });
    const n2 = new RaftNode({ id: "n2", storage });
    n2.step({
      type: "MsgSnap",
      from: "n1",
      to: "n2",
      term: 1,
      snapshot: {
        metadata: {
          index: 2,
          term: 1,
          confState: {
            voters: ["n1", "n2"],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data: bytes("[]"),
      },
    });
    const out = drain(n2, storage);
    expect(out).toMatchObject([{ type: "MsgAppResp", index: 3 }]);
    expect(storage.snapshot().metadata.index).toBe(0);
  });

  it("a restarted node resumes from its snapshot and re-applies the committed entries after it", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    for (let i = 0; i < 3; i++) net.propose("n1", `p${i}`);
    const snapIndex = net.compact("n2");
    net.propose("n1", "p3");
    const before = net.node("n2").status();
    net.restart("n2");
    const after = net.node("n2").status();
    expect(after).toMatchObject({
      term: before.term,
      commit: before.commit,
      applied: snapIndex,
      role: "follower",
    });
    net.stabilize();
    expect(net.node("n2").status().applied).toBe(before.applied);
    net.tickAll(3);
    net.propose("n1", "p4");
    expect(net.appliedData("n2")).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });

  it("a failed snapshot send puts the follower back to probing and it is retried", () => {
    const voters = ["n1", "n2", "n3"];
    const net = new Network(voters);
    net.elect("n1");
    net.isolate("n3");
    for (let i = 0; i < 3; i++) net.propose("n1", `p${i}`);
    net.compact("n1");
    net.heal();
    // The snapshot is lost on the way; the harness's transport reports the failure
    // (reportSnapshot(n3, false)), which puts n3 back to probing instead of waiting forever.
    let lostSnapshots = 0;
    net.filter = (m) => {
      if (m.type !== "MsgSnap") return true;
      lostSnapshots++;
      return false;
    };
    net.tickAll(1);
    expect(lostSnapshots).toBe(1);
    expect(net.node("n1").status().progress.n3?.state).toBe("probe");
    expect(net.appliedData("n3")).toEqual([]);
    net.heal();
    net.tickAll(3);
    expect(net.appliedData("n3")).toEqual(["p0", "p1", "p2"]);
  });
});
