import { describe, expect, it } from "vitest";
import type { Entry } from "../../../raft/core/messages.ts";
import { type DurableLog, InvariantChecker } from "../../../raft/sim/invariants.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";

const enc = new TextEncoder();
const entry = (index: number, term: number, data = ""): Entry => ({
  index,
  term,
  type: "normal",
  data: enc.encode(data),
});

function storageWith(...entries: Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(entries);
  return s;
}

function durable(id: string, entries: Entry[]): DurableLog {
  const last = entries[entries.length - 1];
  return {
    id,
    lastIndex: last?.index ?? 0,
    lastTerm: last?.term ?? 0,
    snapshotIndex: 0,
    entry: (i) => entries.find((e) => e.index === i),
  };
}

describe("simulator invariants (Raft Figure 3)", () => {
  it("election safety: two leaders of one term are a violation, one leader twice is not", () => {
    const c = new InvariantChecker();
    c.observeLeader("n1", 3, storageWith());
    c.observeLeader("n1", 3, storageWith());
    expect(() => c.observeLeader("n2", 3, storageWith())).toThrow(/election safety/);
  });

  it("log matching: a different entry at a committed index is a violation", () => {
    const c = new InvariantChecker();
    c.observeCommit("n1", 1, 2, storageWith(entry(1, 1, "a"), entry(2, 1, "b")));
    expect(() =>
      c.observeCommit("n2", 1, 2, storageWith(entry(1, 1, "a"), entry(2, 1, "x"))),
    ).toThrow(/log matching/);
  });

  it("state machine safety: applying a different entry at an index is a violation", () => {
    const c = new InvariantChecker();
    c.observeApply("n1", 1, entry(1, 1, "a"));
    c.observeApply("n2", 1, entry(1, 1, "a"));
    expect(() => c.observeApply("n3", 2, entry(1, 2, "b"))).toThrow(/state machine safety/);
  });

  it("leader completeness: a new leader lacking an entry committed in an earlier term", () => {
    const c = new InvariantChecker();
    c.observeCommit("n1", 1, 2, storageWith(entry(1, 1, "a"), entry(2, 1, "b")));
    expect(() => c.observeLeader("n2", 2, storageWith(entry(1, 1, "a")))).toThrow(
      /leader completeness/,
    );
    // A leader of the same (older) term observed late need not hold it.
    c.observeLeader("n3", 1, storageWith(entry(1, 1, "a")));
  });

  it("leader completeness before the fact: the Figure 8 state is caught", () => {
    // (Raft paper Figure 8, (d) after an unsafe (c)): index 2 of term 2 was "committed" by
    // counting replicas on s1, s2, s3, but s5 with its term-3 entry can still win s2..s4's votes.
    const c = new InvariantChecker();
    const committed = [entry(1, 1, "x"), entry(2, 2, "y")];
    c.observeCommit("s1", 4, 2, storageWith(...committed));
    const voters = [
      durable("s1", [...committed, entry(3, 4, "z")]),
      durable("s2", committed),
      durable("s3", committed),
      durable("s4", [entry(1, 1, "x")]),
      durable("s5", [entry(1, 1, "x"), entry(2, 3, "w")]),
    ];
    expect(() => c.checkElectableVoters(voters)).toThrow(/s5 could be elected/);
    // Once s1's term-4 entry is on a majority, s5 can no longer win: no violation.
    const safe = voters.map((v) =>
      v.id === "s2" || v.id === "s3" ? durable(v.id, [...committed, entry(3, 4, "z")]) : v,
    );
    c.checkElectableVoters(safe);
  });
});
