/** The role statechart: timers through an injected clock, roles following the core. */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { ManualClock } from "../../../actors/system/clock.ts";
import { decodeConfChange, emptyConfState } from "../../../raft/core/messages.ts";
import { RaftNode } from "../../../raft/core/raft.ts";
import type { Ready } from "../../../raft/core/ready.ts";
import { raftRole } from "../../../raft/role.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";

type RoleActor = ReturnType<typeof createActor<typeof raftRole>>;

/** A host: persists each Ready, routes its messages to the other actors, applies, advances. */
function startCluster(ids: string[], clock: ManualClock) {
  const actors = new Map<string, RoleActor>();
  const applied = new Map<string, string[]>(ids.map((id) => [id, []]));
  ids.forEach((id, i) => {
    const storage = new MemoryStorage({ ...emptyConfState(), voters: ids });
    const node = new RaftNode({ id, storage, randomSeed: i + 7 });
    const onReady = (rd: Ready) => {
      if (rd.snapshot) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      if (rd.hardState) storage.setHardState(rd.hardState);
      for (const m of [...rd.messages, ...rd.messagesAfterPersist])
        actors.get(m.to)?.send({ type: "STEP", message: m });
      for (const e of rd.committedEntries) {
        if (e.type === "confChange") node.applyConfChange(decodeConfChange(e.data));
        else if (e.data.length > 0) applied.get(id)!.push(new TextDecoder().decode(e.data));
      }
      actors.get(id)!.send({ type: "ADVANCE" });
    };
    actors.set(id, createActor(raftRole, { input: { node, onReady, tickIntervalMs: 100 }, clock }));
  });
  for (const a of actors.values()) a.start();
  return { actors, applied };
}

function roleOf(a: RoleActor): string {
  return (a.getSnapshot().value as { role: string }).role;
}

describe("raftRole statechart", () => {
  it("a lone node times out on the injected clock, campaigns and becomes leader", () => {
    const clock = new ManualClock();
    const { actors } = startCluster(["n1"], clock);
    const a = actors.get("n1")!;
    expect(roleOf(a)).toBe("follower");
    clock.advance(900); // 9 ticks: below the minimum election timeout of 10 ticks
    expect(roleOf(a)).toBe("follower");
    clock.advance(2_000);
    expect(roleOf(a)).toBe("leader");
    a.stop();
  });

  it("three nodes on one simulated clock elect exactly one leader and replicate a proposal", () => {
    const clock = new ManualClock();
    const { actors, applied } = startCluster(["n1", "n2", "n3"], clock);
    clock.advance(5_000);
    const roles = [...actors.values()].map(roleOf);
    expect(roles.filter((r) => r === "leader")).toHaveLength(1);
    expect(roles.filter((r) => r === "follower")).toHaveLength(2);
    const leader = [...actors.values()].find((a) => roleOf(a) === "leader")!;
    leader.send({ type: "PROPOSE", data: new TextEncoder().encode("hello") });
    clock.advance(500);
    for (const id of ["n1", "n2", "n3"]) expect(applied.get(id)).toEqual(["hello"]);
    for (const a of actors.values()) a.stop();
  });

  it("a proposal to a node without a leader is reported as dropped, not thrown", () => {
    const clock = new ManualClock();
    const storage = new MemoryStorage({ ...emptyConfState(), voters: ["n1", "n2", "n3"] });
    const node = new RaftNode({ id: "n1", storage });
    const dropped: string[] = [];
    const actor = createActor(raftRole, {
      input: {
        node,
        onReady: () => actor.send({ type: "ADVANCE" }),
        onDropped: (e) => dropped.push(e.reason),
      },
      clock,
    });
    actor.start();
    actor.send({ type: "PROPOSE", data: new Uint8Array([1]) });
    expect(dropped).toEqual(["noLeader"]);
    actor.stop();
  });
});
