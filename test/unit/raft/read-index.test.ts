/** Linearizable reads with ReadIndex (Raft thesis §6.4). */
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../raft/core/errors.ts";
import { bytes, Network, str } from "./network.ts";

describe("Thesis §6.4 ReadIndex", () => {
  it("the leader serves a read at its commit index only after a heartbeat round acknowledged by a quorum", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "a");
    const commit = net.node("n1").status().commit;
    net.node("n1").readIndex(bytes("r1"));
    net.processReadies();
    // Nothing yet: the leader must first confirm it is still the leader.
    expect(net.peer("n1").readStates).toEqual([]);
    expect(net.queue.filter((m) => m.type === "MsgHeartbeat")).toHaveLength(2);
    net.stabilize();
    expect(net.peer("n1").readStates.map((r) => [r.index, str(r.requestCtx)])).toEqual([
      [commit, "r1"],
    ]);
  });

  it("one acknowledging follower is enough in a three-node cluster", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.isolate("n3");
    net.node("n1").readIndex(bytes("r"));
    net.stabilize();
    expect(net.peer("n1").readStates).toHaveLength(1);
  });

  it("a follower forwards the read to its leader and receives the read index back", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    net.propose("n1", "a");
    net.node("n2").readIndex(bytes("f1"));
    net.stabilize();
    expect(net.peer("n2").readStates.map((r) => [r.index, str(r.requestCtx)])).toEqual([
      [net.node("n1").status().commit, "f1"],
    ]);
    expect(net.peer("n1").readStates).toEqual([]);
  });

  it("a deposed leader partitioned away cannot serve a read (it never gathers a quorum of acks)", () => {
    const net = new Network(["n1", "n2", "n3"], { checkQuorum: false });
    net.elect("n1");
    net.isolate("n1");
    net.elect("n2");
    net.propose("n2", "new-write");
    // n1 still believes it leads (no check-quorum here), but cannot confirm it.
    expect(net.node("n1").status().role).toBe("leader");
    net.node("n1").readIndex(bytes("stale?"));
    net.stabilize();
    net.tick("n1", 5);
    net.stabilize();
    expect(net.peer("n1").readStates).toEqual([]);
  });

  it("a new leader defers reads until it has committed an entry of its own term", () => {
    const net = new Network(["n1", "n2", "n3"]);
    // The leader's first append (its empty entry) does not get through yet.
    net.filter = (m) => !(m.type === "MsgApp" && m.from === "n1");
    net.elect("n1");
    expect(net.node("n1").status().role).toBe("leader");
    net.node("n1").readIndex(bytes("early"));
    net.stabilize();
    expect(net.peer("n1").readStates).toEqual([]);
    net.heal();
    net.tickAll(2);
    const rs = net.peer("n1").readStates;
    expect(rs).toHaveLength(1);
    // The read index covers the leader's own entry of its term.
    expect(rs[0]!.index).toBeGreaterThanOrEqual(1);
    expect(rs[0]!.index).toBe(net.node("n1").status().commit);
  });

  it("a single-node leader answers reads at once", () => {
    const net = new Network(["n1"]);
    net.elect("n1");
    net.node("n1").readIndex(bytes("x"));
    net.stabilize();
    expect(net.peer("n1").readStates).toHaveLength(1);
  });

  it("a read without any known leader is refused with a clear error", () => {
    const net = new Network(["n1", "n2", "n3"]);
    expect(() => net.node("n2").readIndex(bytes("x"))).toThrow(ProposalDroppedError);
  });

  it("lease-based reads are answered without a heartbeat round (requires check-quorum)", () => {
    const net = new Network(["n1", "n2", "n3"], {
      readOnlyOption: "leaseBased",
      checkQuorum: true,
    });
    net.elect("n1");
    net.isolate("n1");
    net.node("n1").readIndex(bytes("lease"));
    net.processReadies();
    expect(net.peer("n1").readStates).toHaveLength(1);
  });
});
