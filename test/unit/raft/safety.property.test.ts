/**
 * Randomized safety check (fast-check): clusters under message loss, duplication, reordering,
 * partitions and crash-restarts must keep Raft's guarantees (Raft §5.2 Figure 3):
 * election safety (one leader per term), state machine safety (applied sequences agree),
 * and, once the faults stop, make progress again.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../raft/core/errors.ts";
import type { ConfChange, Message } from "../../../raft/core/messages.ts";
import { bytes, Network, str } from "./network.ts";

/** More runs with RAFT_FUZZ_RUNS=5000 for a bug hunt. */
const RUNS = Number(process.env.RAFT_FUZZ_RUNS ?? 100);

type Action =
  | { kind: "tick"; node: number }
  | { kind: "deliver"; pick: number }
  | { kind: "drop"; pick: number }
  | { kind: "duplicate"; pick: number }
  | { kind: "propose"; node: number }
  | { kind: "ready"; node: number }
  | { kind: "partition"; node: number }
  | { kind: "heal" }
  | { kind: "restart"; node: number }
  | { kind: "crashMidReady"; node: number }
  | { kind: "compact"; node: number }
  | { kind: "transfer"; node: number }
  | { kind: "read"; node: number }
  | { kind: "confChange"; node: number; pick: number };

/** A schedule of faults and work; `tickWeight` sets how stormy elections are. */
function actions(tickWeight: number, membership = false): fc.Arbitrary<Action[]> {
  const action: fc.Arbitrary<Action> = fc.oneof(
    {
      weight: tickWeight,
      arbitrary: fc.record({ kind: fc.constant("tick" as const), node: fc.nat(4) }),
    },
    {
      weight: 54,
      arbitrary: fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(50) }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("drop" as const), pick: fc.nat(50) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("duplicate" as const), pick: fc.nat(50) }),
    },
    {
      weight: 10,
      arbitrary: fc.record({ kind: fc.constant("propose" as const), node: fc.nat(4) }),
    },
    { weight: 27, arbitrary: fc.record({ kind: fc.constant("ready" as const), node: fc.nat(4) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("partition" as const), node: fc.nat(4) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("heal" as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), node: fc.nat(4) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), node: fc.nat(4) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("crashMidReady" as const), node: fc.nat(4) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("transfer" as const), node: fc.nat(4) }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("read" as const), node: fc.nat(4) }) },
    {
      weight: membership ? 3 : 0,
      arbitrary: fc.record({
        kind: fc.constant("confChange" as const),
        node: fc.nat(4),
        pick: fc.nat(5),
      }),
    },
  );
  return fc.array(action, { minLength: 100, maxLength: 800 });
}

/** Pending reads: ctx → the highest commit index anywhere when the read was requested. */
type Reads = Map<string, number>;

/**
 * Thesis §6.4: a read must observe every write committed before it was requested, so its
 * read index must be at least the highest commit index known anywhere at request time.
 */
function checkReads(net: Network, reads: Reads): void {
  for (const p of net.peers.values()) {
    for (const rs of p.readStates) {
      const ctx = str(rs.requestCtx);
      const floor = reads.get(ctx);
      // (A duplicated MsgReadIndexResp may deliver a read twice; both must be valid.)
      if (floor === undefined) throw new Error(`unknown read ${ctx}`);
      if (rs.index < floor) throw new Error(`read ${ctx} at ${rs.index} misses commit ${floor}`);
    }
    p.readStates = [];
  }
}

function maxCommit(net: Network): number {
  return Math.max(...[...net.peers.values()].map((p) => p.node.status().commit));
}

const JOINER = "n9";
function membershipChange(pick: number): ConfChange {
  const c = (
    transition: ConfChange["transition"],
    ...changes: ConfChange["changes"]
  ): ConfChange => ({
    transition,
    changes,
    context: new Uint8Array(),
  });
  switch (pick % 6) {
    case 0:
      return c("auto", { type: "addLearner", nodeId: JOINER });
    case 1:
      return c("auto", { type: "addVoter", nodeId: JOINER });
    case 2:
      return c("auto", { type: "removeNode", nodeId: JOINER });
    case 3:
      return c("implicit", { type: "addVoter", nodeId: JOINER });
    case 4:
      return c("explicit", { type: "addLearner", nodeId: JOINER });
    default:
      return c("auto");
  }
}

function checkSafety(net: Network, leadersByTerm: Map<number, string>): void {
  for (const p of net.peers.values()) {
    const s = p.node.status();
    if (s.role === "leader") {
      const prev = leadersByTerm.get(s.term);
      if (prev !== undefined && prev !== p.id)
        throw new Error(`two leaders in term ${s.term}: ${prev} and ${p.id}`);
      leadersByTerm.set(s.term, p.id);
    }
  }
  // Log Matching (Raft §5.3): if two persisted logs hold an entry with the same index and
  // term, they are identical up to that index. Checked from the highest shared index down.
  const peers = [...net.peers.values()];
  for (let x = 0; x < peers.length; x++) {
    for (let y = x + 1; y < peers.length; y++) {
      const a = peers[x]!.storage;
      const b = peers[y]!.storage;
      const lo = Math.max(a.firstIndex(), b.firstIndex());
      let matched = false;
      for (let i = Math.min(a.lastIndex(), b.lastIndex()); i >= lo; i--) {
        const ea = a.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!;
        const eb = b.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!;
        if (!matched && ea.term === eb.term) matched = true;
        if (
          matched &&
          (ea.term !== eb.term || str(ea.data) !== str(eb.data) || ea.type !== eb.type)
        ) {
          throw new Error(
            `log matching violated at ${i} between ${peers[x]!.id} and ${peers[y]!.id}`,
          );
        }
      }
    }
  }
  // State machine safety: every node's applied sequence is a prefix of the longest one.
  const seqs = [...net.peers.keys()].map((id) => net.appliedData(id));
  const longest = seqs.reduce((a, b) => (b.length > a.length ? b : a), []);
  for (const s of seqs) expect(longest.slice(0, s.length)).toEqual(s);
  expect(new Set(longest).size).toBe(longest.length);
}

function run(
  voters: string[],
  actions: Action[],
  opts: { preVote: boolean; checkQuorum: boolean },
  membership = false,
): void {
  const net = new Network(voters, opts);
  const ids = [...voters];
  if (membership) {
    net.addJoiner(JOINER, 99);
    ids.push(JOINER);
    // Start from a working cluster: these runs are about membership, not first elections.
    net.elect(voters[0]!);
  }
  const leadersByTerm = new Map<number, string>();
  const reads: Reads = new Map();
  let seq = 0;
  const pickNode = (i: number) => ids[i % ids.length]!;
  for (const a of actions) {
    switch (a.kind) {
      case "tick":
        net.tick(pickNode(a.node));
        break;
      case "deliver": {
        if (net.queue.length === 0) break;
        const [m] = net.queue.splice(a.pick % net.queue.length, 1);
        net.queue.unshift(m as Message);
        net.deliverOne();
        break;
      }
      case "drop":
        if (net.queue.length > 0) net.drop(a.pick % net.queue.length);
        break;
      case "duplicate": {
        // A duplicated forwarded proposal is appended twice by design: de-duplication belongs
        // to the state machine's client sessions, so this test does not duplicate MsgProp.
        const m = net.queue[a.pick % Math.max(1, net.queue.length)];
        if (m && m.type !== "MsgProp") net.queue.push(m);
        break;
      }
      case "propose":
        try {
          net.node(pickNode(a.node)).propose(bytes(`v${seq++}`));
        } catch (e) {
          if (!(e instanceof ProposalDroppedError)) throw e;
        }
        break;
      case "ready":
        net.processReady(net.peer(pickNode(a.node)));
        break;
      case "partition":
        net.isolate(pickNode(a.node));
        break;
      case "heal":
        net.heal();
        break;
      case "restart":
        net.restart(pickNode(a.node));
        break;
      case "crashMidReady": {
        // The host sent `messages` (allowed before persisting) and crashed before persisting
        // anything: nothing of this Ready survives except what already went out.
        const p = net.peer(pickNode(a.node));
        if (!p.node.hasReady()) break;
        const rd = p.node.ready();
        net.queue.push(...rd.messages);
        net.restart(p.id);
        break;
      }
      case "compact": {
        const p = net.peer(pickNode(a.node));
        if (p.appliedIndex > p.storage.snapshot().metadata.index) net.compact(p.id);
        break;
      }
      case "transfer": {
        const n = net.node(pickNode(a.node));
        n.transferLeader(pickNode(a.node + 1));
        break;
      }
      case "read": {
        const ctx = `r${seq++}`;
        try {
          reads.set(ctx, maxCommit(net));
          net.node(pickNode(a.node)).readIndex(bytes(ctx));
        } catch (e) {
          if (!(e instanceof ProposalDroppedError)) throw e;
          reads.delete(ctx);
        }
        break;
      }
      case "confChange":
        try {
          net.node(pickNode(a.node)).proposeConfChange(membershipChange(a.pick));
        } catch (e) {
          if (!(e instanceof ProposalDroppedError)) throw e;
        }
        break;
    }
    checkSafety(net, leadersByTerm);
    checkReads(net, reads);
  }
  // Liveness once the faults stop: a leader emerges and every node applies the same history.
  net.heal();
  net.stabilize();
  for (let i = 0; i < 200 && net.leaders().length !== 1; i++) net.tickAll();
  if (membership) {
    // A removed node that never learned of its removal would keep campaigning (Raft §4.2.3):
    // like an operator, shut it off.
    const leader = net.leaders()[0];
    const cs = leader ? net.node(leader).status().config : null;
    if (cs && ![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(JOINER)) {
      net.isolate(JOINER);
      ids.pop();
      for (let i = 0; i < 200 && net.leaders().filter((l) => l !== JOINER).length !== 1; i++)
        net.tickAll();
    }
  }
  if (net.leaders().length !== 1) {
    const dump = [...net.peers.values()].map((p) => {
      const st = p.node.status();
      return `${p.id} ${st.role} t${st.term} lead=${st.lead} vote=${st.vote} commit=${st.commit} applied=${st.applied} last=${p.storage.lastIndex()} lastTerm=${p.storage.term(p.storage.lastIndex())} voters=${st.config.voters}`;
    });
    throw new Error(`no single leader after healing:\n${dump.join("\n")}`);
  }
  // Propose until a value proposed after healing is applied everywhere (a stale leader may
  // still lose its proposal, so re-propose at whoever leads every 20 ticks).
  let attempt = 0;
  let done = false;
  for (let i = 0; i < 400 && !done; i++) {
    const leaders = net.leaders().filter((l) => ids.includes(l));
    if (membership && leaders.length === 1 && ids.includes(JOINER)) {
      // The joiner may have been removed by a change that committed only now.
      const cs = net.node(leaders[0]!).status().config;
      if (![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(JOINER)) {
        net.isolate(JOINER);
        ids.pop();
      }
    }
    if (leaders.length === 1 && i % 20 === 0) {
      try {
        net.node(leaders[0]!).propose(bytes(`final${attempt++}`));
      } catch (e) {
        if (!(e instanceof ProposalDroppedError)) throw e;
      }
    }
    net.tickAll();
    const seqs = ids.map((id) => net.appliedData(id).join());
    done =
      seqs.every((x) => x === seqs[0]) &&
      net.appliedData(ids[0]!).some((d) => d.startsWith("final"));
  }
  checkSafety(net, leadersByTerm);
  if (!done) {
    const dump = [...net.peers.values()].map((p) => {
      const st = p.node.status();
      return `${p.id} ${st.role} t${st.term} lead=${st.lead} commit=${st.commit} applied=${st.applied} first=${p.storage.firstIndex()} last=${p.storage.lastIndex()} conf=${JSON.stringify(st.config)} prs=${JSON.stringify(st.progress)} data=${net.appliedData(p.id)}`;
    });
    throw new Error(`no progress after healing:\n${dump.join("\n")}`);
  }
  checkReads(net, reads);
}

describe("Randomized safety (Raft Figure 3 properties) under faults", () => {
  for (const opts of [
    { preVote: true, checkQuorum: true },
    { preVote: false, checkQuorum: false },
  ]) {
    for (const tickWeight of [6, 25]) {
      it(`3 nodes, preVote=${opts.preVote} checkQuorum=${opts.checkQuorum}, tick weight ${tickWeight}`, () => {
        fc.assert(
          fc.property(actions(tickWeight), (as) => run(["n1", "n2", "n3"], as, opts)),
          { numRuns: RUNS },
        );
      });
    }
  }

  for (const opts of [
    { preVote: true, checkQuorum: true },
    { preVote: false, checkQuorum: false },
  ]) {
    it(`3 voters and a joining node with membership changes, preVote=${opts.preVote}`, () => {
      fc.assert(
        fc.property(actions(12, true), (as) => run(["n1", "n2", "n3"], as, opts, true)),
        { numRuns: RUNS },
      );
    });
  }

  it("5 nodes, defaults", () => {
    fc.assert(
      fc.property(actions(10), (as) =>
        run(["n1", "n2", "n3", "n4", "n5"], as, { preVote: true, checkQuorum: true }),
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
